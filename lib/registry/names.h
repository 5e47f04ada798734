// GTO's naming rules and tag formats (github.com/iterative/gto), which mlo
// writes and reads so that a GTO user's tags and mlo's are one registry:
//   NAME@v1.2.3          register a version        NAME@v1.2.3!#N  deregister it
//   NAME#STAGE#N         assign a stage            NAME#STAGE!#N   unassign it
//   NAME@deprecated#N    deprecate the model
// N is a counter per model (the largest N among the model's tags + 1). A name
// is letters, digits, '-', '_' and '/', starting and ending with a letter or
// digit; it may be prefixed by "folder:" (written "folder=" inside a tag).
// mlo adds approvals, which GTO ignores:  mlo-approval/NAME/VERSION/STAGE/N.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlo::registry {

// GTO's `name` regex: ^[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?$ (stages, aliases, model names).
bool is_valid_name(std::string_view name);
// A model name: an optional "folder:" prefix ([a-zA-Z0-9-_./]+) and a name.
bool is_valid_model_name(std::string_view name);
// Throws InputError explaining GTO's rules when `name` breaks them; `what` is "model name", "stage", ...
void check_name(std::string_view name, const std::string& what);

struct SemVer {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::string prerelease, build;
  std::string str() const;  // "v1.2.3[-pre][+build]"
};
// Parses "v1.2.3" (the leading v is required, as in GTO).
std::optional<SemVer> parse_semver(std::string_view text);
// Semantic-versioning precedence (build metadata ignored): <0, 0, >0.
int compare_semver(const SemVer& a, const SemVer& b);
SemVer bump(const SemVer& v, const std::string& part);  // "major", "minor", "patch"

enum class TagKind { register_, deregister, assign, unassign, deprecate, approval };
const char* to_string(TagKind kind);

struct TagName {
  TagKind kind = TagKind::register_;
  std::string model;    // with ':' (not '=')
  std::string version;  // register/deregister/approval
  std::string stage;    // assign/unassign/approval
  std::int64_t counter = 0;  // 0 when the tag has none
};

// Parses a tag name (without refs/tags/); nullopt when it is not a registry tag.
std::optional<TagName> parse_tag_name(std::string_view tag);
std::string format_tag_name(const TagName& t);

}  // namespace mlo::registry
