module github.com/gale-bt/gale

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
