// The block-YAML reader (lib/repo/yaml_block.h) against yaml-cpp: wherever the
// fast reader answers, its answer must be yaml-cpp's; what it declines goes to
// yaml-cpp anyway, so declining is always safe and only costs speed.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <random>

#include "pipeline/lock_file.h"
#include "pipeline/pipeline.h"
#include "repo/config.h"
#include "repo/yaml_block.h"

using namespace mlo;
using json = nlohmann::json;

namespace {

// yaml-cpp's reading, or "invalid" when it refuses the text.
std::optional<json> slow_read(const std::string& text) {
  try {
    return yaml_to_json(YAML::Load(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

// A yaml-cpp node as text: kinds, scalars (quoted "!" or plain), keys in order.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "~";
    case YAML::NodeType::Scalar: return (n.Tag() == "!" ? "Q(" : "P(") + n.Scalar() + ")";
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : n) out += describe(item) + ",";
      return out + "]";
    }
    case YAML::NodeType::Map: {
      std::string out = "{";
      for (const auto& kv : n) out += describe(kv.first) + ":" + describe(kv.second) + ",";
      return out + "}";
    }
    default: return "?";
  }
}

// The node at the keys PATH names ('\0' between them) from AT on. (Assigning
// to a yaml-cpp node would change the node it refers to: no loop.)
YAML::Node follow(const YAML::Node& n, const std::string& path, std::size_t at) {
  if (path.empty() || at > path.size()) return n;
  const std::size_t end = std::min(path.find('\0', at), path.size());
  return follow(n[path.substr(at, end - at)], path, end + 1);
}

// Every answer of the fast readers equals yaml-cpp's (as JSON, and as nodes
// for read_block_yaml_node); returns whether the JSON reader answered.
bool agrees(const std::string& text) {
  auto fast = read_block_yaml(text);
  BlockMarks marks;
  auto fast_node = read_block_yaml_node(text, &marks);
  INFO("YAML:\n" << text);
  if (fast_node) {
    REQUIRE(fast.has_value());  // the node reader declines at least what the JSON one does
    const YAML::Node slow = YAML::Load(text);
    CHECK(describe(*fast_node) == describe(slow));
    // Each mapping's mark is where yaml-cpp puts it.
    for (const auto& [path, mark] : marks) {
      const YAML::Node n = follow(slow, path, 0);
      INFO("mapping at '" << path << "'");
      REQUIRE(n.IsMap());
      CHECK(n.Mark().line == mark.line);
      CHECK(n.Mark().column == mark.column);
    }
  }
  if (!fast) return false;
  auto slow = slow_read(text);
  REQUIRE(slow.has_value());
  CHECK(fast->dump() == slow->dump());
  return true;
}

std::string random_string(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {
      "a", "b.txt", " ", ":", ": ", "#", " #", "-", "- ", "'", "\"", "true", "null", "~", "1", "0.5", "-3", "1e3",
      "0x1F", "[", "]", "{", "}", ",", "&x", "*x", "!", "|", ">", "%", "@", "`", "?", "\\", "\n", "\t", "é",
      "python train.py --lr 0.1", "data/x y.csv", "Null", "NO", "yes", ".inf", "+1", "07"};
  std::string s;
  int n = static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

json random_json(std::mt19937& rng, int depth) {
  int kind = static_cast<int>(rng() % (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0: return random_string(rng);
    case 1: return static_cast<long long>(rng() % 2000) - 1000;
    case 2: return (rng() % 2) == 0;
    case 3: return nullptr;
    case 4: return static_cast<double>(rng() % 1000) / 8.0;
    case 5: {
      json a = json::array();
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random_json(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
        std::string k = random_string(rng);
        o[k.empty() ? "k" : k] = random_json(rng, depth + 1);
      }
      return o;
    }
  }
}

const char* kLock = R"(# Written by 'mlo run': the resolved deps, params and outs of each stage. Commit it.
stages:
  b:
    cmd: cat a.txt a.txt > b.txt
    deps:
      - path: a.txt
        sha256: 87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7
    key: 03bbedfb1f6d9be7d31ee9b222b3e04cc2603fdb1de11f8c18079fbfec663ee8
    metrics: []
    outs:
      - path: b.txt
        sha256: 7da0810372718aaba44c608981aa81247cee8c3fc0ece1f7f7dd0e3152b41715
        size: 4
        type: file
    params: {lr: 0.1}
    run: a24b71773d601613
version: 1
)";

}  // namespace

TEST_CASE("block YAML: mlo.lock as mlo writes it is read without yaml-cpp, as yaml-cpp reads it") {
  REQUIRE(read_block_yaml(kLock) == std::nullopt);  // a flow mapping with a value: yaml-cpp's
  std::string lock = kLock;
  lock.replace(lock.find("{lr: 0.1}"), 9, "\n      lr: 0.1\n      name: \"true\"\n      note: 'it''s'");
  REQUIRE(agrees(lock));
  json doc = *read_block_yaml(lock);
  CHECK(doc["stages"]["b"]["params"]["lr"] == 0.1);
  CHECK(doc["stages"]["b"]["params"]["name"] == "true");
  CHECK(doc["stages"]["b"]["params"]["note"] == "it's");
  CHECK(doc["stages"]["b"]["outs"][0]["size"] == 4);
  CHECK(doc["stages"]["b"]["metrics"] == json::array());
  // What parse_lock writes back, it reads on the fast path.
  REQUIRE(read_block_yaml(serialize_lock(doc)).has_value());
  CHECK(*read_block_yaml(serialize_lock(doc)) == doc);
}

TEST_CASE("block YAML: what json_to_yaml writes reads back the same way on both readers") {
  std::mt19937 rng(20261206);
  int answered = 0;
  for (int i = 0; i < 1500; ++i) {
    json doc = json::object();
    doc["v"] = random_json(rng, 0);
    if (agrees(json_to_yaml(doc))) ++answered;
  }
  // Most of what mlo writes takes the fast path (the rest: escapes, flow, non-ASCII).
  CHECK(answered > 500);
}

TEST_CASE("block YAML: hand-written shapes agree or fall back") {
  const std::vector<std::string> answered = {
      "", "# only a comment\n", "a: 1\nb: x\n", "a:\n  b:\n    c: d\n", "a:\n- 1\n- 2\nb: 3\n", "- a\n- b: 1\n  c: 2\n",
      "a: b #c\n", "a: b#c\n", "a:   \n", "a: ~\nb: null\nc: Null\nd: NULL\ne: \"\"\n", "'a b': 1\n\"c\": 2\n",
      "a: -1\nb: -x\nc: 1e3\nd: 0x10\ne: .inf\nf: 07\n", "a:\n  -\n    b: 1\n", "a: x, y\n", "  a: 1\n  b: 2\n",
      "a: \"x\"  # note\n", "a: b\na: c\n", "a:b: 1\n", "a: yes\nb: True\n", "-\n- a\n", Config::default_text(),
      "remotes:\n  r:\n    url: 's3://b/p'\n    region: \"07\"\n    jobs: 8\nrunners:\n  x: {}\n",
      // one-line flow lists of plain scalars, as mlo.yaml's deps and outs are written
      "a: [1, 2]\n", "outs: [a.txt]\n", "deps: [b.txt, a.txt]  # inputs\n", "x: [ a ,b,c d ,~, null, -1, 0x1F]\n",
      "- [a, b]\n- c\n", "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n  b:\n    deps: [a.txt]\n"};
  for (const auto& text : answered) {
    INFO(text);
    CHECK(agrees(text));
  }
  // yaml-cpp keeps both of a repeated key where JSON keeps the last: the node
  // reader leaves such text to yaml-cpp.
  CHECK_FALSE(read_block_yaml_node("a: b\na: c\n").has_value());
  const std::vector<std::string> declined = {
      "a: [1, [2]]\n", "a: [a, ]\n", "a: [,a]\n", "a: ['x']\n", "a: [\"x\"]\n", "a: [a: b]\n", "a: [a:b]\n",
      "a: [a #c]\n", "a: [a] b\n", "a: [a\n", "a: [a,\n  b]\n", "a: [&x a]\n", "a: [- a]\n", "a: [a#b]\n", "a: {b: 1}\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a: >\n  text\n",
      "a: \"x\\ny\"\n", "a: b\n  c\n", "a: \"x\n  y\"\n", "---\na: 1\n", "a:\tb\n", "a: 1\r\n", "? a\n: b\n",
      "a: b: c\n", "- - a\n", "a: é\n", "a\n", "a: 1\n b: 2\n", "[1, 2]\n", "a: 'x' y\n", "a: `x`\n", "a: @x\n", "~: 1\n", "Null: 1\n",
      "\xEF\xBB\xBF" "a: 1\n"};
  for (const auto& text : declined) {
    INFO(text);
    CHECK_FALSE(read_block_yaml(text).has_value());
  }
}

TEST_CASE("block YAML: damaged text never gets an answer yaml-cpp would not give") {
  std::mt19937 rng(7);
  std::string base = kLock;
  base.replace(base.find("{lr: 0.1}"), 9, "\n      lr: 0.1");
  base += "extra:\n  - 'q'\n  - \"r s\"\n  -\n    x: -1\nouts: [a.txt, b c, -1]\n";
  static const char kBytes[] = " :-#'\"\n\tab1{}[],&*!|>?";
  int answered = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = base;
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      std::size_t at = rng() % text.size();
      char c = kBytes[rng() % (sizeof(kBytes) - 1)];
      switch (rng() % 3) {
        case 0: text.insert(at, 1, c); break;
        case 1: text[at] = c; break;
        default: text.erase(at, 1);
      }
    }
    if (agrees(text)) ++answered;
  }
  CHECK(answered > 2000);  // the comparison ran on answered texts, not only on declines
}

TEST_CASE("block YAML: nesting deeper than the bound is left to yaml-cpp") {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k:\n";
  CHECK_FALSE(read_block_yaml(deep).has_value());
  std::string shallow;
  for (int i = 0; i < 20; ++i) shallow += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k:\n";
  CHECK(agrees(shallow));
}

TEST_CASE("yaml_to_json: YAML 1.2's core types, the same for params and runner settings") {
  // Runner settings used to go through a copy that read YAML 1.1's yes/on as
  // true and hex as numbers, so a run record and its runner disagreed.
  auto doc = yaml_to_json(YAML::Load("a: yes\nb: on\nc: 'true'\nd: true\ne: 0x10\nf: 1e3\ng: nan\nh: ~\ni: 12\n"
                                     "j: [off, '7', 7]\n"));
  CHECK(doc == nlohmann::json::parse(R"({"a": "yes", "b": "on", "c": "true", "d": true, "e": "0x10", "f": 1000.0,
                                        "g": "nan", "h": null, "i": 12, "j": ["off", "7", 7]})"));
  // The block reader gives the same document.
  CHECK(read_block_yaml("a: yes\nb: on\nc: 'true'\nd: true\ne: 0x10\nf: 1e3\ng: nan\nh: ~\ni: 12\n") ==
        nlohmann::json::parse(R"({"a": "yes", "b": "on", "c": "true", "d": true, "e": "0x10", "f": 1000.0,
                                  "g": "nan", "h": null, "i": 12})"));
}
