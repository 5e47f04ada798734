#include "ui/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "ui/html.h"

namespace mlo::ui {

namespace {

// Plot area and room for the title, ticks and axis labels.
constexpr double kWidth = 640, kLeft = 64, kRight = 16, kTop = 30, kPlotHeight = 220, kBottom = 46;
constexpr double kLegendRow = 16, kLegendColumn = 204;
// Bounds on what one chart draws (a series of a million steps stays a small file).
constexpr std::size_t kMaxLinePoints = 2000, kMaxMarkers = 300;

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

std::string fixed(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// Maps data to pixels along one axis.
struct Scale {
  double d0, d1, p0, p1;
  double operator()(double v) const { return d1 == d0 ? (p0 + p1) / 2 : p0 + (v - d0) / (d1 - d0) * (p1 - p0); }
};

void title_and_frame(std::ostringstream& s, const std::string& title, double height) {
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << kWidth << "' height='" << fixed(height)
    << "' viewBox='0 0 " << kWidth << " " << fixed(height) << "' font-family='sans-serif' font-size='11' role='img'>"
    << "<rect width='100%' height='100%' fill='#fff'/><text x='" << kWidth / 2
    << "' y='18' text-anchor='middle' font-size='13' font-weight='bold'>" << esc(title) << "</text>";
}

// Y axis with grid lines and its label; returns the scale.
Scale y_axis(std::ostringstream& s, const std::vector<double>& ticks, const std::string& label) {
  const double base = kTop + kPlotHeight, right = kWidth - kRight;
  Scale y{ticks.front(), ticks.back(), base, kTop};
  for (double t : ticks) {
    std::string py = fixed(y(t));
    s << "<line x1='" << kLeft << "' y1='" << py << "' x2='" << right << "' y2='" << py << "' stroke='#e5e5e5'/>"
      << "<text x='" << kLeft - 5 << "' y='" << fixed(y(t) + 4) << "' text-anchor='end'>" << number_text(t) << "</text>";
  }
  s << "<line x1='" << kLeft << "' y1='" << kTop << "' x2='" << kLeft << "' y2='" << base << "' stroke='#333'/>"
    << "<line x1='" << kLeft << "' y1='" << base << "' x2='" << right << "' y2='" << base << "' stroke='#333'/>"
    << "<text transform='translate(14," << fixed(kTop + kPlotHeight / 2) << ") rotate(-90)' text-anchor='middle'>"
    << esc(label) << "</text>";
  return y;
}

// Entries in rows of three under the plot.
void legend(std::ostringstream& s, const std::vector<std::string>& names, double top) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    double x = kLeft + kLegendColumn * static_cast<double>(i % 3);
    double y = top + kLegendRow * static_cast<double>(i / 3);
    std::string shown = names[i].size() > 32 ? names[i].substr(0, 31) + "…" : names[i];
    s << "<g class='legend'><title>" << esc(names[i]) << "</title><rect x='" << fixed(x) << "' y='" << fixed(y - 9)
      << "' width='12' height='10' fill='" << series_colour(i) << "'/><text x='" << fixed(x + 16) << "' y='"
      << fixed(y) << "'>" << esc(shown) << "</text></g>";
  }
}

double legend_height(std::size_t entries) { return kLegendRow * static_cast<double>((entries + 2) / 3) + 6; }

// Every k-th point so that at most `cap` are drawn (the last always).
std::vector<std::pair<double, double>> thin(const std::vector<std::pair<double, double>>& pts, std::size_t cap) {
  if (pts.size() <= cap) return pts;
  std::vector<std::pair<double, double>> out;
  std::size_t step = (pts.size() + cap - 1) / cap;
  for (std::size_t i = 0; i < pts.size(); i += step) out.push_back(pts[i]);
  if (out.back() != pts.back()) out.push_back(pts.back());
  return out;
}

std::vector<std::pair<double, double>> finite_points(const Series& s) {
  std::vector<std::pair<double, double>> out;
  for (const auto& p : s.points)
    if (std::isfinite(p.first) && std::isfinite(p.second)) out.push_back(p);
  return out;
}

void draw_series(std::ostringstream& s, const LineChart& c, std::size_t i, const std::vector<std::pair<double, double>>& pts,
                 const Scale& x, const Scale& y) {
  const char* colour = series_colour(i);
  s << "<g class='series' data-name='" << esc(c.series[i].name) << "'>";
  if (!c.markers_only && pts.size() > 1) {
    s << "<polyline fill='none' stroke='" << colour << "' stroke-width='1.6' points='";
    for (const auto& p : thin(pts, kMaxLinePoints)) s << fixed(x(p.first)) << "," << fixed(y(p.second)) << " ";
    s << "'/>";
  }
  double r = c.markers_only ? 3.5 : 2.2;
  for (const auto& p : thin(pts, kMaxMarkers))
    s << "<circle cx='" << fixed(x(p.first)) << "' cy='" << fixed(y(p.second)) << "' r='" << r << "' fill='" << colour
      << "'><title>" << esc(c.series[i].name) << ": " << esc(c.x_label) << " " << number_text(p.first) << ", "
      << esc(c.y_label) << " " << number_text(p.second) << "</title></circle>";
  s << "</g>";
}

}  // namespace

const char* series_colour(std::size_t i) {
  static const char* palette[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
                                  "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#79706e"};
  return palette[i % 10];
}

std::string number_text(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::fabs(v) < 1e-12) v = 0;  // ticks computed as 0.1 * k
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  double raw = (hi - lo) / std::max(1, count);
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double f = raw / mag;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  double first = std::floor(lo / step) * step, last = std::ceil(hi / step) * step;
  std::vector<double> out;
  for (int k = 0; first + step * k <= last + step * 1e-9 && k < 100; ++k) out.push_back(first + step * k);
  if (out.size() < 2) out.push_back(first + step);
  return out;
}

std::string line_chart_svg(const LineChart& c) {
  Range xr, yr;
  std::vector<std::vector<std::pair<double, double>>> pts;
  for (const auto& series : c.series) {
    pts.push_back(finite_points(series));
    for (const auto& p : pts.back()) {
      xr.add(p.first);
      yr.add(p.second);
    }
  }
  if (xr.empty()) xr = yr = Range{0, 1};
  std::vector<std::string> names;
  for (const auto& series : c.series) names.push_back(series.name);
  const double height = kTop + kPlotHeight + kBottom + legend_height(names.size());
  std::ostringstream s;
  title_and_frame(s, c.title, height);
  Scale y = y_axis(s, nice_ticks(yr.lo, yr.hi), c.y_label);
  std::vector<double> xt = nice_ticks(xr.lo, xr.hi, 6);
  Scale x{xt.front(), xt.back(), kLeft, kWidth - kRight};
  const double base = kTop + kPlotHeight;
  for (double t : xt)
    s << "<line x1='" << fixed(x(t)) << "' y1='" << base << "' x2='" << fixed(x(t)) << "' y2='" << base + 4
      << "' stroke='#333'/><text x='" << fixed(x(t)) << "' y='" << base + 16 << "' text-anchor='middle'>"
      << number_text(t) << "</text>";
  s << "<text x='" << fixed(kLeft + (kWidth - kLeft - kRight) / 2) << "' y='" << base + 34
    << "' text-anchor='middle'>" << esc(c.x_label) << "</text>";
  for (std::size_t i = 0; i < c.series.size(); ++i) draw_series(s, c, i, pts[i], x, y);
  legend(s, names, base + kBottom + 8);
  s << "</svg>";
  return s.str();
}

std::string bar_chart_svg(const BarChart& c) {
  Range yr;
  yr.add(0);
  for (double v : c.values)
    if (std::isfinite(v)) yr.add(v);
  const std::size_t n = c.categories.size();
  const double height = kTop + kPlotHeight + kBottom + legend_height(n);
  std::ostringstream s;
  title_and_frame(s, c.title, height);
  Scale y = y_axis(s, nice_ticks(yr.lo, yr.hi), c.y_label);
  const double slot = (kWidth - kLeft - kRight) / static_cast<double>(std::max<std::size_t>(n, 1));
  const double bar = std::min(slot * 0.7, 60.0);
  for (std::size_t i = 0; i < n; ++i) {
    double v = i < c.values.size() ? c.values[i] : std::nan("");
    double cx = kLeft + slot * (static_cast<double>(i) + 0.5);
    if (!std::isfinite(v)) {
      s << "<text x='" << fixed(cx) << "' y='" << fixed(y(0) - 4) << "' text-anchor='middle' fill='#777'>n/a<title>"
        << esc(c.categories[i]) << ": no value</title></text>";
      continue;
    }
    double top = std::min(y(v), y(0)), h = std::fabs(y(v) - y(0));
    s << "<rect x='" << fixed(cx - bar / 2) << "' y='" << fixed(top) << "' width='" << fixed(bar) << "' height='"
      << fixed(std::max(h, 0.5)) << "' fill='" << series_colour(i) << "'><title>" << esc(c.categories[i]) << ": "
      << esc(c.y_label) << " " << number_text(v) << "</title></rect><text x='" << fixed(cx) << "' y='"
      << fixed(top - 3) << "' text-anchor='middle' font-size='10'>" << number_text(v) << "</text>";
  }
  legend(s, c.categories, kTop + kPlotHeight + kBottom - 10);
  s << "</svg>";
  return s.str();
}

}  // namespace mlo::ui
