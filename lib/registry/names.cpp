#include "registry/names.h"

#include <charconv>

#include "core/error.h"

namespace mlo::registry {

namespace {
// GTO's rule (gto/constants.py): name = [a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?,
// dirname = [a-zA-Z0-9-_./]+.
bool edge_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool name_char(char c) { return edge_char(c) || c == '-' || c == '/' || c == '_'; }
bool folder_char(char c) { return name_char(c) || c == '.'; }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (!all_digits(s) || (s.size() > 1 && s[0] == '0')) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Dot-separated identifiers of [0-9A-Za-z-]; numeric ones without leading zeros (prerelease only).
bool valid_idents(std::string_view s, bool numeric_rule) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view id = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (id.empty()) return false;
    for (char c : id)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) return false;
    if (numeric_rule && all_digits(id) && id.size() > 1 && id[0] == '0') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}
}  // namespace

bool is_valid_name(std::string_view name) {
  if (name.empty() || !edge_char(name.front()) || !edge_char(name.back())) return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

bool is_valid_model_name(std::string_view name) {
  size_t colon = name.find(':');
  if (colon == std::string_view::npos) return is_valid_name(name);
  std::string_view folder = name.substr(0, colon);
  if (folder.empty()) return false;
  for (char c : folder)
    if (!folder_char(c)) return false;
  return is_valid_name(name.substr(colon + 1));
}

void check_name(std::string_view name, const std::string& what) {
  bool ok = what == "model name" ? is_valid_model_name(name) : is_valid_name(name);
  if (!ok)
    throw InputError("invalid " + what + " '" + std::string(name) + "'",
                     "use letters, digits, '-', '_' and '/', starting and ending with a letter or digit (GTO's "
                     "naming rule, so GTO reads the tags too)" +
                         std::string(what == "model name" ? "; a 'folder:' prefix may also hold '.'" : ""));
}

std::string SemVer::str() const {
  std::string s = "v" + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!prerelease.empty()) s += "-" + prerelease;
  if (!build.empty()) s += "+" + build;
  return s;
}

std::optional<SemVer> parse_semver(std::string_view text) {
  if (text.size() < 6 || text[0] != 'v') return std::nullopt;
  text.remove_prefix(1);
  SemVer v;
  size_t plus = text.find('+');
  if (plus != std::string_view::npos) {
    v.build = std::string(text.substr(plus + 1));
    if (!valid_idents(v.build, false)) return std::nullopt;
    text = text.substr(0, plus);
  }
  size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    v.prerelease = std::string(text.substr(dash + 1));
    if (!valid_idents(v.prerelease, true)) return std::nullopt;
    text = text.substr(0, dash);
  }
  size_t d1 = text.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  size_t d2 = text.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  if (!parse_u64(text.substr(0, d1), v.major) || !parse_u64(text.substr(d1 + 1, d2 - d1 - 1), v.minor) ||
      !parse_u64(text.substr(d2 + 1), v.patch))
    return std::nullopt;
  return v;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease == b.prerelease) return 0;
  if (a.prerelease.empty()) return 1;  // a release ranks above its prereleases
  if (b.prerelease.empty()) return -1;
  std::string_view x = a.prerelease, y = b.prerelease;
  while (true) {
    size_t dx = x.find('.'), dy = y.find('.');
    std::string_view ix = x.substr(0, dx), iy = y.substr(0, dy);
    if (ix != iy) {
      bool nx = all_digits(ix), ny = all_digits(iy);
      if (nx && ny) {
        if (ix.size() != iy.size()) return ix.size() < iy.size() ? -1 : 1;
        return ix < iy ? -1 : 1;
      }
      if (nx != ny) return nx ? -1 : 1;
      return ix < iy ? -1 : 1;
    }
    if (dx == std::string_view::npos || dy == std::string_view::npos) {
      if (dx == dy) return 0;
      return dx == std::string_view::npos ? -1 : 1;
    }
    x = x.substr(dx + 1);
    y = y.substr(dy + 1);
  }
}

SemVer bump(const SemVer& v, const std::string& part) {
  SemVer out;
  if (part == "major") {
    out.major = v.major + 1;
  } else if (part == "minor") {
    out.major = v.major;
    out.minor = v.minor + 1;
  } else if (part == "patch") {
    out.major = v.major;
    out.minor = v.minor;
    out.patch = v.prerelease.empty() ? v.patch + 1 : v.patch;
  } else {
    throw UsageError("--bump: expected major, minor or patch, got '" + part + "'");
  }
  return out;
}

const char* to_string(TagKind kind) {
  switch (kind) {
    case TagKind::register_: return "registration";
    case TagKind::deregister: return "deregistration";
    case TagKind::assign: return "assignment";
    case TagKind::unassign: return "unassignment";
    case TagKind::deprecate: return "deprecation";
    case TagKind::approval: return "approval";
  }
  return "?";
}

namespace {
std::string tag_to_model(std::string_view s) {
  std::string m(s);
  size_t eq = m.find('=');
  if (eq != std::string::npos) m[eq] = ':';
  return m;
}
std::string model_to_tag(std::string_view s) {
  std::string m(s);
  size_t c = m.find(':');
  if (c != std::string::npos) m[c] = '=';
  return m;
}

std::optional<TagName> parse_approval(std::string_view tag) {
  // mlo-approval/MODEL/VERSION/STAGE/N (MODEL may contain '/')
  constexpr std::string_view prefix = "mlo-approval/";
  tag.remove_prefix(prefix.size());
  size_t p3 = tag.rfind('/');
  if (p3 == std::string_view::npos || p3 == 0) return std::nullopt;
  size_t p2 = tag.rfind('/', p3 - 1);
  if (p2 == std::string_view::npos || p2 == 0) return std::nullopt;
  size_t p1 = tag.rfind('/', p2 - 1);
  if (p1 == std::string_view::npos) return std::nullopt;
  TagName t;
  t.kind = TagKind::approval;
  t.model = tag_to_model(tag.substr(0, p1));
  t.version = std::string(tag.substr(p1 + 1, p2 - p1 - 1));
  t.stage = std::string(tag.substr(p2 + 1, p3 - p2 - 1));
  std::string_view n = tag.substr(p3 + 1);
  std::uint64_t c = 0;
  if (!is_valid_model_name(t.model) || !parse_semver(t.version) || !is_valid_name(t.stage) || !parse_u64(n, c))
    return std::nullopt;
  t.counter = static_cast<std::int64_t>(c);
  return t;
}
}  // namespace

std::optional<TagName> parse_tag_name(std::string_view tag) {
  if (tag.rfind("mlo-approval/", 0) == 0) return parse_approval(tag);
  size_t sep = tag.find_first_of("@#");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  TagName t;
  t.model = tag_to_model(tag.substr(0, sep));
  if (!is_valid_model_name(t.model)) return std::nullopt;
  std::string_view rest = tag.substr(sep + 1);
  // Optional trailing counter "#N".
  auto take_counter = [&](std::string_view& s) -> bool {
    size_t h = s.find('#');
    if (h == std::string_view::npos) return true;
    std::uint64_t c = 0;
    std::string_view n = s.substr(h + 1);
    if (!all_digits(n)) return false;
    auto r = std::from_chars(n.data(), n.data() + n.size(), c);
    if (r.ec != std::errc()) return false;
    t.counter = static_cast<std::int64_t>(c);
    s = s.substr(0, h);
    return true;
  };
  if (!take_counter(rest)) return std::nullopt;
  bool cancel = !rest.empty() && rest.back() == '!';
  if (cancel) rest.remove_suffix(1);
  if (tag[sep] == '#') {
    if (!is_valid_name(rest)) return std::nullopt;
    t.stage = std::string(rest);
    t.kind = cancel ? TagKind::unassign : TagKind::assign;
    return t;
  }
  if (rest == "deprecated" && !cancel) {
    t.kind = TagKind::deprecate;
    return t;
  }
  if (!parse_semver(rest)) return std::nullopt;
  t.version = std::string(rest);
  t.kind = cancel ? TagKind::deregister : TagKind::register_;
  return t;
}

std::string format_tag_name(const TagName& t) {
  std::string m = model_to_tag(t.model);
  std::string counter = t.counter > 0 ? "#" + std::to_string(t.counter) : "";
  switch (t.kind) {
    case TagKind::register_: return m + "@" + t.version + counter;
    case TagKind::deregister: return m + "@" + t.version + "!" + counter;
    case TagKind::assign: return m + "#" + t.stage + counter;
    case TagKind::unassign: return m + "#" + t.stage + "!" + counter;
    case TagKind::deprecate: return m + "@deprecated" + counter;
    case TagKind::approval:
      return "mlo-approval/" + m + "/" + t.version + "/" + t.stage + "/" + std::to_string(t.counter);
  }
  return m;
}

}  // namespace mlo::registry
