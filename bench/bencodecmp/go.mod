module github.com/gale-bt/gale/bench/bencodecmp

go 1.26.0

require (
	github.com/anacrolix/torrent v1.59.1
	github.com/gale-bt/gale v0.0.0
)

require (
	github.com/anacrolix/missinggo v1.3.0 // indirect
	github.com/anacrolix/missinggo/v2 v2.10.0 // indirect
	github.com/huandu/xstrings v1.3.2 // indirect
)

replace github.com/gale-bt/gale => ../..
