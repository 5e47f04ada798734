// Cron schedules for `schedule:` triggers: five fields in UTC (minute, hour,
// day of month, month, day of week; *, N, A-B, lists, */N and A-B/N; day of
// week 0-7 with 0 and 7 Sunday) or @hourly, @daily, @weekly, @monthly,
// @yearly. As in cron, when both day fields are restricted a day matches
// either of them.
#pragma once
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

namespace mlo::triggers {

struct Cron {
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> mday;  // 1..31
  std::bitset<13> month;  // 1..12
  std::bitset<7> wday;   // 0..6, Sunday 0
  bool mday_any = true, wday_any = true;
  std::string text;
};

// Throws InputError naming the field and what is allowed (`where` starts the message).
Cron parse_cron(const std::string& text, const std::string& where);
bool cron_matches(const Cron& c, std::int64_t epoch_minute_start);
// The latest matching minute at or before `now` (epoch seconds, UTC), looking
// back at most 400 days; nullopt when none (e.g. "0 0 31 2 *").
std::optional<std::int64_t> latest_slot(const Cron& c, std::int64_t now);
// The first matching minute after `now` (for `triggers ls`), within 400 days.
std::optional<std::int64_t> next_slot(const Cron& c, std::int64_t now);

}  // namespace mlo::triggers
