#include "repo/yaml_block.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace mlo {

using json = nlohmann::json;

namespace {
// yaml-cpp reads these plain scalars as null (its IsNullString).
bool is_plain_null(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }
}  // namespace

json plain_scalar_json(const std::string& s) {
  if (is_plain_null(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  {
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (*end == 0 && errno == 0 && s.find_first_of("xX") == std::string::npos) return i;
  }
  {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (*end == 0 && s.find_first_of("xXnN") == std::string::npos && std::isfinite(d)) return d;
  }
  return s;
}

json yaml_to_json(const YAML::Node& node) {
  if (!node || node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    json a = json::array();
    for (const auto& item : node) a.push_back(yaml_to_json(item));
    return a;
  }
  if (node.IsMap()) {
    json o = json::object();
    for (const auto& kv : node) o[kv.first.Scalar()] = yaml_to_json(kv.second);
    return o;
  }
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted in the YAML: a string
  if (s.empty()) return "";         // (a null node returned above)
  return plain_scalar_json(s);
}

namespace {

constexpr int kMaxDepth = 64;

struct Line {
  std::size_t indent;
  std::string_view text;  // after the indent; never empty, never a comment
  std::size_t number;     // 0-based, as YAML::Mark counts
};

// Thrown inside the reader only: "outside the subset, ask yaml-cpp".
struct NotBlockYaml {};

bool is_space_or_end(std::string_view s, std::size_t i) { return i >= s.size() || s[i] == ' '; }

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// After a quoted scalar only spaces and a comment may follow.
void expect_line_end(std::string_view rest) {
  std::size_t i = rest.find_first_not_of(' ');
  if (i == std::string_view::npos) return;
  if (rest[i] != '#' || i == 0) throw NotBlockYaml{};
}

// A quoted scalar that ends on its line; `rest` gets what follows it.
std::string quoted(std::string_view s, std::string_view& rest) {
  char q = s[0];
  std::string out;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (q == '"' && c == '\\') throw NotBlockYaml{};  // escapes: yaml-cpp's
    if (c == q) {
      if (q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
        out += '\'';
        ++i;
        continue;
      }
      rest = s.substr(i + 1);
      return out;
    }
    out += c;
  }
  throw NotBlockYaml{};  // continues on the next line
}

// A flow list of plain scalars on one line ("[a.txt, b.txt]", as mlo.yaml's
// deps and outs are often written). Anything richer (quotes, nesting,
// "key: value" pairs, empty or trailing items, a comment inside) is yaml-cpp's.
template <class T>
typename T::Node flow_list(std::string_view s) {
  if (s.size() < 3 || s.back() != ']') throw NotBlockYaml{};
  s = s.substr(1, s.size() - 2);
  // yaml-cpp ends or refuses flow scalars at more than the spec's indicators
  // ("b c? d"): only the characters of paths and numbers.
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view(" ._/+=~-").find(c) != std::string_view::npos;
  };
  typename T::Node out = T::list();
  while (true) {
    std::size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    std::size_t first = item.find_first_not_of(' ');
    if (first == std::string_view::npos) throw NotBlockYaml{};
    item = trim_right(item.substr(first));
    if (!std::all_of(item.begin(), item.end(), allowed) || (item[0] == '-' && is_space_or_end(item, 1)))
      throw NotBlockYaml{};
    T::push(out, T::plain(std::string(item)));
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

// A value written after "key: " or "- ", made by the tree type T.
template <class T>
typename T::Node scalar(std::string_view s) {
  if (s[0] == '"' || s[0] == '\'') {
    std::string_view rest;
    std::string v = quoted(s, rest);
    expect_line_end(rest);
    return T::quoted(std::move(v));
  }
  std::size_t comment = s.find(" #");
  if (comment != std::string_view::npos) s = trim_right(s.substr(0, comment));
  if (s == "{}") return T::map();
  if (s == "[]") return T::list();
  if (s[0] == '[') return flow_list<T>(s);
  static constexpr std::string_view kIndicators = "[]{},?:#&*!|>%@`-";
  if (kIndicators.find(s[0]) != std::string_view::npos) {
    // A plain scalar may start with '-', '?' or ':' followed by a non-space
    // ("-1", "-x"): take only the '-' digits and words case.
    if (s[0] != '-' || is_space_or_end(s, 1)) throw NotBlockYaml{};
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '[' || c == ']' || c == '{' || c == '}') throw NotBlockYaml{};
    if (c == ':' && is_space_or_end(s, i + 1)) throw NotBlockYaml{};
  }
  return T::plain(std::string(s));
}

// The trees the reader builds: JSON typed as yaml_to_json types it, or
// yaml-cpp nodes as YAML::Load builds them (scalars kept as text, quoted ones
// tagged "!"), without yaml-cpp's scanner.
struct JsonTree {
  using Node = json;
  static Node null() { return nullptr; }
  static Node map() { return json::object(); }
  static Node list() { return json::array(); }
  static Node plain(const std::string& s) { return plain_scalar_json(s); }
  static Node quoted(std::string s) { return s; }
  static void set(Node& map, const std::string& key, bool /*quoted*/, Node value) { map[key] = std::move(value); }
  static void push(Node& list, Node value) { list.push_back(std::move(value)); }
};

struct YamlTree {
  using Node = YAML::Node;
  static Node null() { return Node(YAML::NodeType::Null); }
  static Node map() { return Node(YAML::NodeType::Map); }
  static Node list() { return Node(YAML::NodeType::Sequence); }
  static Node plain(const std::string& s) { return is_plain_null(s) ? null() : Node(s); }
  static Node quoted(const std::string& s) {
    Node n(s);
    n.SetTag("!");
    return n;
  }
  static void set(Node& map, const std::string& key, bool quoted_key, const Node& value) {
    // yaml-cpp keeps both of a repeated key, JSON the last: leave it to yaml-cpp.
    const Node& read_only = map;
    if (read_only[key].IsDefined()) throw NotBlockYaml{};
    map.force_insert(quoted_key ? quoted(key) : Node(key), value);
  }
  static void push(Node& list, const Node& value) { list.push_back(value); }
};

template <class T>
class Reader {
 public:
  Reader(std::vector<Line> lines, BlockMarks* marks) : lines_(std::move(lines)), marks_(marks) {}

  using Node = typename T::Node;

  Node document() {
    if (lines_.empty()) return T::null();
    Node doc = node(lines_[0].indent, 0);
    if (at_ < lines_.size()) throw NotBlockYaml{};  // a line that belongs nowhere
    return doc;
  }

 private:
  std::vector<Line> lines_;
  std::size_t at_ = 0;
  BlockMarks* marks_;
  std::string path_;   // the keys leading to the node being read, '\0' between
  int list_depth_ = 0;  // inside a list item the path names no single node

  bool has_line_at(std::size_t indent) const { return at_ < lines_.size() && lines_[at_].indent == indent; }
  static bool is_item(std::string_view t) { return t[0] == '-' && is_space_or_end(t, 1); }

  Node node(std::size_t indent, int depth) {
    if (depth > kMaxDepth) throw NotBlockYaml{};
    return is_item(lines_[at_].text) ? list(indent, depth) : mapping(indent, depth);
  }

  // The value of "key:" or "-" with nothing after it: a deeper block, or a
  // list at the key's own indent ("key:\n- a"), or null.
  Node nested(std::size_t indent, int depth, bool list_allowed_at_indent) {
    if (at_ >= lines_.size()) return T::null();
    const Line& next = lines_[at_];
    if (next.indent > indent) return node(next.indent, depth + 1);
    if (list_allowed_at_indent && next.indent == indent && is_item(next.text)) return list(indent, depth + 1);
    return T::null();
  }

  Node list(std::size_t indent, int depth) {
    ++list_depth_;
    Node out = T::list();
    while (has_line_at(indent) && is_item(lines_[at_].text)) {
      Line& line = lines_[at_];
      std::size_t skip = line.text.find_first_not_of(' ', 1);
      if (skip == std::string_view::npos) {  // "-" alone
        ++at_;
        T::push(out, nested(indent, depth, false));
        continue;
      }
      std::string_view rest = line.text.substr(skip);
      if (is_item(rest)) throw NotBlockYaml{};  // "- - x"
      if (starts_mapping(rest)) {
        // "- key: v" opens a mapping whose keys line up with this first one.
        line.indent += skip;
        line.text = rest;
        T::push(out, mapping(line.indent, depth + 1));
      } else {
        ++at_;
        T::push(out, scalar<T>(rest));
      }
    }
    if (at_ < lines_.size() && lines_[at_].indent > indent) throw NotBlockYaml{};
    --list_depth_;
    return out;
  }

  static bool starts_mapping(std::string_view t) {
    if (t[0] == '"' || t[0] == '\'') {
      std::string_view rest;
      try {
        quoted(t, rest);
      } catch (const NotBlockYaml&) {
        return false;
      }
      return !rest.empty() && rest[0] == ':';
    }
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '#' && i > 0 && t[i - 1] == ' ') return false;
      if (t[i] == ':' && is_space_or_end(t, i + 1)) return true;
    }
    return false;
  }

  std::string key(std::string_view t, std::string_view& value, bool& quoted_key) {
    std::string k;
    std::string_view rest;
    quoted_key = t[0] == '"' || t[0] == '\'';
    if (quoted_key) {
      k = quoted(t, rest);
    } else {
      std::size_t colon = t.find(':');
      while (colon != std::string_view::npos && !is_space_or_end(t, colon + 1)) colon = t.find(':', colon + 1);
      if (colon == std::string_view::npos) throw NotBlockYaml{};
      std::string_view name = trim_right(t.substr(0, colon));
      static constexpr std::string_view kBadInKey = "[]{},#&*!|>%@`\"'?";
      if (name.empty() || kBadInKey.find(name[0]) != std::string_view::npos ||
          name.find_first_of("[]{}#") != std::string_view::npos || (name[0] == '-' && is_space_or_end(name, 1)))
        throw NotBlockYaml{};
      k = std::string(name);
      if (is_plain_null(k)) throw NotBlockYaml{};  // a null key ("~:"): yaml-cpp's
      rest = t.substr(colon);
    }
    if (rest.empty() || rest[0] != ':' || !is_space_or_end(rest, 1)) throw NotBlockYaml{};
    std::size_t v = rest.find_first_not_of(' ', 1);
    value = v == std::string_view::npos ? std::string_view() : rest.substr(v);
    if (!value.empty() && value[0] == '#') value = {};
    return k;
  }

  Node mapping(std::size_t indent, int depth) {
    Node out = T::map();
    // yaml-cpp marks a block mapping where its first key starts.
    if (marks_ && list_depth_ == 0 && at_ < lines_.size()) {
      YAML::Mark m;
      m.line = static_cast<int>(lines_[at_].number);
      m.column = static_cast<int>(lines_[at_].indent);
      (*marks_)[path_] = m;
    }
    while (has_line_at(indent)) {
      std::string_view t = lines_[at_].text;
      if (is_item(t)) break;  // a list at this indent ends the mapping (the caller decides)
      std::string_view value;
      bool quoted_key = false;
      std::string k = key(t, value, quoted_key);
      ++at_;
      const std::size_t outer = path_.size();
      if (marks_) path_.append(outer ? 1 : 0, '\0').append(k);
      T::set(out, k, quoted_key, value.empty() ? nested(indent, depth, true) : scalar<T>(value));
      path_.resize(outer);
    }
    if (at_ < lines_.size() && lines_[at_].indent > indent) throw NotBlockYaml{};
    return out;
  }
};

// Splits the text into significant lines; nullopt on what the subset never holds.
std::optional<std::vector<Line>> split_lines(std::string_view text) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") return std::nullopt;
  std::vector<Line> lines;
  std::size_t pos = 0;
  for (std::size_t number = 0; pos < text.size(); ++number) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    // Tabs, CR, control bytes and non-ASCII (yaml-cpp decodes and repairs
    // UTF-8) are the fallback's.
    for (char c : line)
      if (c < 0x20 || c > 0x7e) return std::nullopt;
    std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string_view::npos || line[indent] == '#') continue;
    if (indent == 0 && (line.substr(0, 3) == "---" || line.substr(0, 3) == "..." || line[0] == '%'))
      return std::nullopt;  // directives and several documents
    lines.push_back({indent, trim_right(line.substr(indent)), number});
  }
  return lines;
}

}  // namespace

namespace {
template <class T>
std::optional<typename T::Node> read_block(std::string_view text, BlockMarks* marks = nullptr) {
  auto lines = split_lines(text);
  if (!lines) return std::nullopt;
  try {
    return Reader<T>(std::move(*lines), marks).document();
  } catch (const NotBlockYaml&) {
    return std::nullopt;
  }
}
}  // namespace

std::optional<json> read_block_yaml(std::string_view text) { return read_block<JsonTree>(text); }

std::optional<YAML::Node> read_block_yaml_node(std::string_view text, BlockMarks* marks) {
  return read_block<YamlTree>(text, marks);
}

}  // namespace mlo
