package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the output
		not      []string // substrings that must not appear
	}{
		{"emphasis", "**bold** and *it*", []string{"<strong>bold</strong>", "<em>it</em>"}, nil},
		{"heading and list", "# Title\n\n- a\n- b", []string{"<h1>Title</h1>", "<li>a</li>"}, nil},
		{"table", "| a | b |\n|---|---|\n| 1 | 2 |", []string{"<table>", "<td>1</td>"}, nil},
		{"code", "`<b>`\n\n```\n<script>\n```", []string{"<code>&lt;b&gt;</code>", "&lt;script&gt;"}, []string{"<b>", "<script"}},
		{"raw inline html", "a <b onclick=x>bold</b>", []string{"&lt;b onclick=x&gt;"}, []string{"<b "}},
		{"raw block html", "<div>\n<script>alert(1)</script>\n</div>", []string{"&lt;script&gt;"}, []string{"<script", "<div>"}},
		{"http link", "[x](http://example.org/a?b=1&c=2)", []string{`<a href="http://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">x</a>`}, nil},
		{"mailto", "[m](mailto:a@example.org)", []string{`href="mailto:a@example.org"`}, nil},
		{"relative", "[t](/torrent/1) [h](#files)", []string{`href="/torrent/1"`, `href="#files"`}, nil},
		{"javascript", "[x](javascript:alert(1))", []string{"x"}, []string{"href", "javascript:"}},
		{"javascript upper", "[x](JaVaScRiPt:alert(1))", nil, []string{"href"}},
		{"javascript entity", "[x](java&#115;cript:alert(1))", nil, []string{"href"}},
		{"javascript spaces", "[x]( javascript:alert(1) )", nil, []string{"href"}},
		{"data", "[x](data:text/html;base64,PHNjcmlwdD4=)", nil, []string{"href"}},
		{"vbscript autolink", "<vbscript:msgbox>", nil, []string{"href"}},
		{"protocol relative", "[x](//evil.example/)", nil, []string{"href"}},
		{"backslash", "[x](/\\evil.example/)", nil, []string{"href"}},
		{"file", "[x](file:///etc/passwd)", nil, []string{"href"}},
		{"image", "![alt text](https://example.org/a.png)", []string{`<a href="https://example.org/a.png"`, "[image: alt text]"}, []string{"<img"}},
		{"image javascript", "![a](javascript:alert(1))", []string{"[image: a]"}, []string{"<img", "href"}},
		{"autolink", "see https://example.org/x and www.example.com", []string{`href="https://example.org/x"`, `href="http://www.example.com"`}, nil},
		{"email autolink", "<a@example.org>", []string{`href="mailto:a@example.org"`}, nil},
		{"quote in url", `[x](https://e.org/"onmouseover="alert(1))`, []string{`&#34;onmouseover=&#34;alert(1)`}, []string{`"onmouseover="`}},
		{"title attribute", `[x](https://e.org/ "a\" onclick=\"b")`, nil, []string{"onclick=\""}},
		{"line breaks", "a\nb", []string{"a<br>\nb"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := string(renderMarkdown(tc.in))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(strings.ToLower(out), strings.ToLower(n)) {
					t.Errorf("output contains %q:\n%s", n, out)
				}
			}
			checkSafeHTML(t, out)
		})
	}
}

var (
	tagRE  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>`)
	hrefRE = regexp.MustCompile(`^ href="((?:https?://|mailto:|/|#)[^"]*)" rel="nofollow noopener noreferrer"$`)
	// safeTags are the elements goldmark writes for Markdown, without
	// attributes except links' href and tables' alignment.
	safeTags = map[string]bool{"p": true, "br": true, "em": true, "strong": true, "del": true, "code": true, "pre": true,
		"blockquote": true, "ul": true, "ol": true, "li": true, "hr": true, "h1": true, "h2": true, "h3": true,
		"h4": true, "h5": true, "h6": true, "table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true}
)

// checkSafeHTML checks that rendered Markdown holds only known tags, and
// attributes only on links (a safe href) and a few others (alignment,
// list start, the class of escaped raw HTML).
func checkSafeHTML(t testing.TB, out string) {
	t.Helper()
	for _, m := range tagRE.FindAllStringSubmatch(out, -1) {
		tag, attrs := strings.ToLower(m[1]), m[2]
		switch {
		case tag == "a":
			if !hrefRE.MatchString(attrs) {
				t.Fatalf("unsafe link <a%s> in\n%s", attrs, out)
			}
		case safeTags[tag]:
			if attrs != "" && !regexp.MustCompile(`^ (style="text-align:(left|right|center)"|start="\d+"|class="raw"|class="language-[^"<>]*")$`).MatchString(attrs) {
				t.Fatalf("attributes %q on <%s> in\n%s", attrs, tag, out)
			}
		default:
			t.Fatalf("tag <%s> in\n%s", tag, out)
		}
	}
}

func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"**b**", "<script>alert(1)</script>", "[x](javascript:alert(1))", "![i](http://x/)",
		"| a |\n|---|\n| <b> |", "<a href=\"javascript:x\">y</a>", "www.example.com", "```html\n<x>\n```", "&lt;&#60;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		checkSafeHTML(t, string(renderMarkdown(s)))
	})
}
