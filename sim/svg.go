package sim

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// series is one line of a plot.
type series struct {
	name, color string
	ys          []float64
}

// Plot geometry, in SVG units.
const (
	plotWidth, plotHeight = 720, 240
	plotLeft, plotRight   = 56, 16
	plotTop, plotBottom   = 28, 36
	plotTicks             = 5
)

// plotSVG draws lines over shared xs as an inline SVG, with a vertical
// mark at each of marks (the faults). All text is escaped.
func plotSVG(title, xUnit, yUnit string, xs []float64, lines []series, marks []float64) template.HTML {
	xMax, yMax := 1.0, 1.0
	for _, x := range xs {
		xMax = math.Max(xMax, x)
	}
	for _, l := range lines {
		for _, y := range l.ys {
			yMax = math.Max(yMax, y)
		}
	}
	xMax, yMax = niceCeil(xMax), niceCeil(yMax)
	w, h := float64(plotWidth-plotLeft-plotRight), float64(plotHeight-plotTop-plotBottom)
	px := func(x float64) float64 { return plotLeft + x/xMax*w }
	py := func(y float64) float64 { return plotTop + h - y/yMax*h }
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, plotWidth, plotHeight, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, plotLeft, esc(title))
	for i := 0; i <= plotTicks; i++ {
		y := yMax * float64(i) / plotTicks
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			plotLeft, plotWidth-plotRight, py(y), py(y), plotLeft-4, py(y)+4, esc(trimFloat(y)))
		x := xMax * float64(i) / plotTicks
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, px(x), plotHeight-plotBottom+14, esc(trimFloat(x)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, plotLeft+int(w)/2, plotHeight-4, esc(xUnit))
	fmt.Fprintf(&b, `<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>`, plotTop+int(h)/2, plotTop+int(h)/2, esc(yUnit))
	for _, m := range marks {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#999" stroke-dasharray="4 3"/>`, px(m), px(m), plotTop, plotTop+h)
	}
	for i, l := range lines {
		var pts strings.Builder
		for j, y := range l.ys {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(xs[j]), py(y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, esc(l.color), pts.String())
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`,
			plotWidth-plotRight-140+i*70, 12, esc(l.color), plotWidth-plotRight-126+i*70, 16, esc(l.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every piece of text above is escaped
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
