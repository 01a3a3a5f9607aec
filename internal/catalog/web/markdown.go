package web

import (
	"bytes"
	"html/template"
	"net/url"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// Descriptions are Markdown (CommonMark with GitHub's tables,
// strikethrough and autolinks) rendered safely:
//   - raw HTML is never passed through: it is shown as escaped text;
//   - links keep only http, https and mailto URLs and site-relative paths
//     ("/..." or "#..."); any other link becomes its plain text;
//   - images are not loaded (they would leak readers' addresses to other
//     hosts): they become links to the image with its alt text;
//   - links get rel="nofollow noopener noreferrer".
//
// Everything else goldmark writes is escaped by goldmark itself.
var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
	goldmark.WithRendererOptions(
		html.WithHardWraps(),
		renderer.WithNodeRenderers(util.Prioritized(safeRenderer{}, 100)),
	),
)

// renderMarkdown renders a description to HTML safe to embed.
func renderMarkdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>")
	}
	return template.HTML(buf.String())
}

// safeURL returns u if it may be a link target, else "".
func safeURL(u string) string {
	u = strings.TrimSpace(u)
	if u == "" {
		return ""
	}
	if strings.HasPrefix(u, "#") || (strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.HasPrefix(u, "/\\")) {
		return u
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		if p.Host == "" {
			return ""
		}
		return u
	case "mailto":
		return u
	}
	return ""
}

// safeRenderer overrides goldmark's renderers for raw HTML, links and
// images.
type safeRenderer struct{}

func (safeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, renderRawInline)
	reg.Register(ast.KindHTMLBlock, renderRawBlock)
	reg.Register(ast.KindLink, renderLink)
	reg.Register(ast.KindAutoLink, renderAutoLink)
	reg.Register(ast.KindImage, renderImage)
}

func renderRawInline(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		segs := n.(*ast.RawHTML).Segments
		for i := 0; i < segs.Len(); i++ {
			s := segs.At(i)
			w.Write(util.EscapeHTML(s.Value(src)))
		}
	}
	return ast.WalkSkipChildren, nil
}

func renderRawBlock(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	b := n.(*ast.HTMLBlock)
	if entering {
		w.WriteString("<p class=\"raw\">")
		lines := b.Lines()
		for i := 0; i < lines.Len(); i++ {
			l := lines.At(i)
			w.Write(util.EscapeHTML(l.Value(src)))
		}
		if b.HasClosure() {
			w.Write(util.EscapeHTML(b.ClosureLine.Value(src)))
		}
		w.WriteString("</p>\n")
	}
	return ast.WalkSkipChildren, nil
}

func writeLinkOpen(w util.BufWriter, href string) {
	w.WriteString(`<a href="`)
	w.WriteString(template.HTMLEscapeString(href))
	w.WriteString(`" rel="nofollow noopener noreferrer">`)
}

func renderLink(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	l := n.(*ast.Link)
	href := safeURL(string(l.Destination))
	if href == "" {
		return ast.WalkContinue, nil // children (the text) render as usual
	}
	if entering {
		writeLinkOpen(w, href)
	} else {
		w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func renderAutoLink(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	l := n.(*ast.AutoLink)
	label := string(l.Label(src))
	u := string(l.URL(src))
	if l.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(u), "mailto:") {
		u = "mailto:" + u
	} else if strings.HasPrefix(strings.ToLower(u), "www.") {
		u = "http://" + u
	}
	href := safeURL(u)
	if href == "" {
		w.WriteString(template.HTMLEscapeString(label))
		return ast.WalkContinue, nil
	}
	writeLinkOpen(w, href)
	w.WriteString(template.HTMLEscapeString(label))
	w.WriteString("</a>")
	return ast.WalkContinue, nil
}

func renderImage(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	img := n.(*ast.Image)
	href := safeURL(string(img.Destination))
	if entering {
		if href != "" {
			writeLinkOpen(w, href)
		}
		w.WriteString("[image: ")
	} else {
		w.WriteString("]")
		if href != "" {
			w.WriteString("</a>")
		}
	}
	return ast.WalkContinue, nil
}
