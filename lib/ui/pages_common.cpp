#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/error.h"
#include "ui/page.h"
#include "ui/svg.h"

namespace mlo::ui {

using json = nlohmann::json;

const json& object_at(const json& j, const char* key) {
  static const json empty = json::object();
  if (!j.is_object()) return empty;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}

std::string cell(const json& v) {
  if (v.is_null()) return "<span class='muted'>-</span>";
  if (v.is_string()) return esc(v.get<std::string>());
  if (v.is_number()) return number_text(v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 300) text = text.substr(0, 299) + "…";
  return "<code>" + esc(text) + "</code>";
}

std::string link(const std::string& href, const std::string& text) {
  return "<a href='" + esc(href) + "'>" + esc(text) + "</a>";
}

std::string html_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                       const std::string& css_class) {
  std::string s = "<table" + (css_class.empty() ? std::string() : " class='" + css_class + "'") + "><thead><tr>";
  for (const auto& h : headers) s += "<th>" + h + "</th>";
  s += "</tr></thead><tbody>";
  for (const auto& r : rows) {
    s += "<tr>";
    for (const auto& c : r) s += "<td>" + c + "</td>";
    s += "</tr>";
  }
  return s + "</tbody></table>";
}

std::string when(double t) {
  if (!(t > 0) || !std::isfinite(t) || t > 4e10) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", ::localtime_r(&tt, &tm));
  return b;
}

long int_param(const QueryParams& q, const char* name, long fallback, long max) {
  std::string v = query_value(q, name);
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) return fallback;
  return std::clamp(std::stol(v), 1L, max);
}

std::string checked_name(const std::string& text, const char* what) {
  bool ok = !text.empty() && text.size() <= 200 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._@#:/+-~^").find(c) != std::string_view::npos;
  });
  if (!ok)
    throw UsageError(std::string("not a valid ") + what + " in the address",
                     "names have at most 200 characters of letters, digits and . _ @ # : / + - ~ ^");
  return text;
}

}  // namespace mlo::ui
