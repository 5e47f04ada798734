// SVG charts rendered by mlo (no scripts, no external assets): line charts of
// step-wise metric series, scatter plots, bar charts of one value across
// revisions or runs, and a heat strip. Readable axes with "nice" ticks, a
// legend, and a <title> on every point and bar (its exact value on hover).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mlo::ui {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite values are skipped
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool markers_only = false;  // a scatter plot
};

// One value per category (revisions, runs); a missing value is NaN.
struct BarChart {
  std::string title, y_label;
  std::vector<std::string> categories;
  std::vector<double> values;
};

std::string line_chart_svg(const LineChart& chart);
std::string bar_chart_svg(const BarChart& chart);

// "Nice" axis ticks covering [lo, hi] (about `count` of them; lo == hi widened).
std::vector<double> nice_ticks(double lo, double hi, int count = 5);
// A tick or hover value: up to 6 significant digits.
std::string number_text(double v);
// The colour of series i (a 10-colour palette, repeated).
const char* series_colour(std::size_t i);

}  // namespace mlo::ui
