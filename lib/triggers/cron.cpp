#include "triggers/cron.h"

#include <ctime>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/parse.h"

namespace mlo::triggers {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

int number(const std::string& t, const std::string& where, const std::string& field) {
  int v = 0;
  if (t.empty() || t.size() > 3 || t.find_first_not_of("0123456789") != std::string::npos)
    throw InputError(where + ": cron " + field + " field has '" + t + "', not a number",
                     "write e.g. '0 3 * * *' (03:00 UTC daily) or '*/15 * * * *'");
  for (char c : t) v = v * 10 + (c - '0');
  return v;
}

// One field into bits lo..hi; returns whether it was '*' (unrestricted).
template <std::size_t N>
bool parse_field(const std::string& text, int lo, int hi, std::bitset<N>& bits, const std::string& where,
                 const std::string& field) {
  for (const auto& part : split(text, ',')) {
    std::string range = part;
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      range = part.substr(0, slash);
      step = number(part.substr(slash + 1), where, field);
      if (step == 0) throw InputError(where + ": cron " + field + " field has a step of 0", "write */N with N >= 1");
    }
    int a = lo, b = hi;
    if (range != "*") {
      auto dash = range.find('-');
      a = number(range.substr(0, dash), where, field);
      b = dash == std::string::npos ? (part.find('/') != std::string::npos ? hi : a) : number(range.substr(dash + 1), where, field);
    }
    if (a < lo || b > hi || a > b)
      throw InputError(where + ": cron " + field + " field '" + part + "' is outside " + std::to_string(lo) + "-" +
                           std::to_string(hi), "write values in " + std::to_string(lo) + "-" + std::to_string(hi));
    for (int v = a; v <= b; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return text == "*";
}

std::string expand_alias(const std::string& t) {
  if (t == "@hourly") return "0 * * * *";
  if (t == "@daily" || t == "@midnight") return "0 0 * * *";
  if (t == "@weekly") return "0 0 * * 0";
  if (t == "@monthly") return "0 0 1 * *";
  if (t == "@yearly" || t == "@annually") return "0 0 1 1 *";
  return t;
}

bool day_matches(const Cron& c, const std::tm& tm) {
  bool md = c.mday.test(static_cast<std::size_t>(tm.tm_mday)), wd = c.wday.test(static_cast<std::size_t>(tm.tm_wday));
  if (c.mday_any && c.wday_any) return true;
  if (c.mday_any) return wd;
  if (c.wday_any) return md;
  return md || wd;  // cron's rule: either restricted day field
}

constexpr std::int64_t kWindow = 400LL * 86400;

}  // namespace

Cron parse_cron(const std::string& text, const std::string& where) {
  Cron c;
  c.text = text;
  std::istringstream in(expand_alias(text));
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  if (f.size() != 5)
    throw InputError(where + ": schedule '" + text + "' has " + std::to_string(f.size()) + " fields, cron needs 5",
                     "minute hour day-of-month month day-of-week (UTC), e.g. '0 3 * * *', or @daily");
  parse_field(f[0], 0, 59, c.minute, where, "minute");
  parse_field(f[1], 0, 23, c.hour, where, "hour");
  c.mday_any = parse_field(f[2], 1, 31, c.mday, where, "day-of-month");
  parse_field(f[3], 1, 12, c.month, where, "month");
  std::bitset<8> wd;
  c.wday_any = parse_field(f[4], 0, 7, wd, where, "day-of-week");
  for (std::size_t d = 0; d < 7; ++d) c.wday[d] = wd[d] || (d == 0 && wd[7]);
  return c;
}

bool cron_matches(const Cron& c, std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return c.minute.test(static_cast<std::size_t>(tm.tm_min)) && c.hour.test(static_cast<std::size_t>(tm.tm_hour)) &&
         c.month.test(static_cast<std::size_t>(tm.tm_mon + 1)) && day_matches(c, tm);
}

// Walks minute by minute, skipping whole days and hours that cannot match.
std::optional<std::int64_t> latest_slot(const Cron& c, std::int64_t now) {
  std::int64_t t = now - ((now % 60) + 60) % 60;
  for (std::int64_t stop = t - kWindow; t >= stop;) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::int64_t into_day = tm.tm_hour * 3600 + tm.tm_min * 60, into_hour = tm.tm_min * 60;
    if (!c.month.test(static_cast<std::size_t>(tm.tm_mon + 1)) || !day_matches(c, tm)) t -= into_day + 60;
    else if (!c.hour.test(static_cast<std::size_t>(tm.tm_hour))) t -= into_hour + 60;
    else if (!c.minute.test(static_cast<std::size_t>(tm.tm_min))) t -= 60;
    else return t;
  }
  return std::nullopt;
}

std::optional<std::int64_t> next_slot(const Cron& c, std::int64_t now) {
  std::int64_t t = now - ((now % 60) + 60) % 60 + 60;
  for (std::int64_t stop = t + kWindow; t <= stop;) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    std::int64_t into_day = tm.tm_hour * 3600 + tm.tm_min * 60, into_hour = tm.tm_min * 60;
    if (!c.month.test(static_cast<std::size_t>(tm.tm_mon + 1)) || !day_matches(c, tm)) t += 86400 - into_day;
    else if (!c.hour.test(static_cast<std::size_t>(tm.tm_hour))) t += 3600 - into_hour;
    else if (!c.minute.test(static_cast<std::size_t>(tm.tm_min))) t += 60;
    else return t;
  }
  return std::nullopt;
}

}  // namespace mlo::triggers
