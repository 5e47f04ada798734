// libgit2 is loaded on first use instead of at program start (x86-64 Linux).
//
// Debian's libgit2 pulls in ten shared libraries (krb5, mbedtls, ssh2,
// pcre2...). Mapping and relocating them costs ~2 ms on every start, almost
// half the 5 ms budget of `mlo --version` and `mlo help`, which never touch
// git. So on x86-64 the binary does not link libgit2: each libgit2 function
// mlo calls is defined here as a two-instruction trampoline that jumps
// through a slot. Every slot starts out pointing at a common stub that saves
// the argument registers, loads libgit2 with dlopen, fills all slots with
// dlsym, restores the registers and jumps to the real function; from then on
// a call costs one indirect jump. (Signatures are not needed: the trampoline
// never touches the arguments.) Elsewhere the library is linked normally.
//
// Calling a libgit2 function that is not listed here fails at link time:
// add it to MLO_GIT_FUNCTIONS (keep the numbers consecutive). The list is what
//   nm build/libmlo.a | awk '$1 == "U" && $2 ~ /^git_/ {print $2}' | sort -u
// prints.
#ifdef MLO_LAZY_LIBGIT2

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#define MLO_GIT_FUNCTIONS(X) \
  X(0, git_blob_free) \
  X(1, git_blob_lookup) \
  X(2, git_blob_rawcontent) \
  X(3, git_blob_rawsize) \
  X(4, git_commit_author) \
  X(5, git_commit_free) \
  X(6, git_commit_lookup) \
  X(7, git_commit_tree) \
  X(8, git_error_last) \
  X(9, git_ignore_path_is_ignored) \
  X(10, git_index_add_bypath) \
  X(11, git_index_find_prefix) \
  X(12, git_index_free) \
  X(13, git_index_get_bypath) \
  X(14, git_index_remove_bypath) \
  X(15, git_index_write) \
  X(16, git_libgit2_init) \
  X(17, git_libgit2_version) \
  X(18, git_object_free) \
  X(19, git_object_id) \
  X(20, git_object_lookup) \
  X(21, git_object_peel) \
  X(22, git_object_type) \
  X(23, git_odb_free) \
  X(24, git_odb_object_data) \
  X(25, git_odb_object_free) \
  X(26, git_odb_object_size) \
  X(27, git_odb_object_type) \
  X(28, git_odb_read) \
  X(29, git_oid_fromstr) \
  X(30, git_oid_tostr) \
  X(31, git_reference_free) \
  X(32, git_reference_is_branch) \
  X(33, git_reference_iterator_free) \
  X(34, git_reference_iterator_glob_new) \
  X(35, git_reference_lookup) \
  X(36, git_reference_name) \
  X(37, git_reference_name_to_id) \
  X(38, git_reference_next) \
  X(39, git_reference_peel) \
  X(40, git_reference_shorthand) \
  X(41, git_reference_target) \
  X(42, git_repository_commondir) \
  X(43, git_repository_free) \
  X(44, git_repository_head) \
  X(45, git_repository_head_unborn) \
  X(46, git_repository_index) \
  X(47, git_repository_init) \
  X(48, git_repository_odb) \
  X(49, git_repository_open) \
  X(50, git_repository_state) \
  X(51, git_revparse_single) \
  X(52, git_revwalk_free) \
  X(53, git_revwalk_new) \
  X(54, git_revwalk_next) \
  X(55, git_revwalk_push_glob) \
  X(56, git_revwalk_push_head) \
  X(57, git_signature_default) \
  X(58, git_signature_free) \
  X(59, git_signature_now) \
  X(60, git_status_list_entrycount) \
  X(61, git_status_list_free) \
  X(62, git_status_list_new) \
  X(63, git_tag_create) \
  X(64, git_tag_delete) \
  X(65, git_tag_message) \
  X(66, git_tag_tagger) \
  X(67, git_tag_target_id) \
  X(68, git_tag_target_type) \
  X(69, git_tree_entry_bypath) \
  X(70, git_tree_entry_free) \
  X(71, git_tree_entry_id) \
  X(72, git_tree_entry_name) \
  X(73, git_tree_entry_type) \
  X(74, git_tree_free) \
  X(75, git_tree_walk) \
  X(76, git_signature_new) \
  /* end */

#define MLO_GIT_COUNT_ONE(i, name) +1
constexpr int kGitFunctionCount = 0 MLO_GIT_FUNCTIONS(MLO_GIT_COUNT_ONE);

extern "C" {
// Written by mlo_git_load, read by the trampolines.
void* mlo_git_slots[kGitFunctionCount];
void mlo_git_lazy_stub();

// Loads libgit2 and fills every slot. Called from the stub with the caller's
// argument registers saved; a missing library is fatal (no exception can
// cross the assembly frame).
__attribute__((used)) void mlo_git_load() {
  static const char* const names[] = {
#define MLO_GIT_NAME(i, name) #name,
      MLO_GIT_FUNCTIONS(MLO_GIT_NAME)};
  void* lib = dlopen(MLO_LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    std::fprintf(stderr, "mlo: error: cannot load libgit2 (%s): %s\nhint: install it: apt-get install libgit2-1.5\n",
                 MLO_LIBGIT2_SONAME, why ? why : "unknown error");
    std::_Exit(3);
  }
  for (int i = 0; i < kGitFunctionCount; ++i) {
    void* fn = dlsym(lib, names[i]);
    if (!fn) {
      std::fprintf(stderr, "mlo: error: %s lacks %s\nhint: install the libgit2 mlo was built with\n",
                   MLO_LIBGIT2_SONAME, names[i]);
      std::_Exit(3);
    }
    __atomic_store_n(&mlo_git_slots[i], fn, __ATOMIC_RELEASE);
  }
}

// Points every slot at the stub before main() runs (constant initialisation
// can not take the address of an assembly symbol in a PIE).
__attribute__((constructor)) static void mlo_git_prepare_slots() {
  for (int i = 0; i < kGitFunctionCount; ++i) mlo_git_slots[i] = reinterpret_cast<void*>(&mlo_git_lazy_stub);
}
}

#define MLO_STR2(x) #x
#define MLO_STR(x) MLO_STR2(x)
// trampoline i: r11 (a scratch register no argument uses) carries i to the stub.
#define MLO_GIT_TRAMPOLINE(i, name)                  \
  ".globl " #name "\n"                              \
  ".type " #name ", @function\n" #name ":\n"        \
  "  movl $" #i ", %r11d\n"                         \
  "  jmp *mlo_git_slots+8*" #i "(%rip)\n"            \
  ".size " #name ", .-" #name "\n"

asm(".text\n"
    MLO_GIT_FUNCTIONS(MLO_GIT_TRAMPOLINE)
    // The stub: save the integer and vector argument registers (and rax, the
    // vector count of variadic calls), keep the stack 16-byte aligned for the
    // call, load, restore, jump to the now-filled slot. Two threads may both
    // load: dlopen is reference-counted and the slots get the same values.
    ".globl mlo_git_lazy_stub\n"
    ".hidden mlo_git_lazy_stub\n"
    ".type mlo_git_lazy_stub, @function\n"
    "mlo_git_lazy_stub:\n"
    "  pushq %rdi\n  pushq %rsi\n  pushq %rdx\n  pushq %rcx\n"
    "  pushq %r8\n  pushq %r9\n  pushq %rax\n  pushq %r11\n"
    "  subq $136, %rsp\n"
    "  movdqu %xmm0, 0(%rsp)\n  movdqu %xmm1, 16(%rsp)\n  movdqu %xmm2, 32(%rsp)\n  movdqu %xmm3, 48(%rsp)\n"
    "  movdqu %xmm4, 64(%rsp)\n  movdqu %xmm5, 80(%rsp)\n  movdqu %xmm6, 96(%rsp)\n  movdqu %xmm7, 112(%rsp)\n"
    "  call mlo_git_load\n"
    "  movdqu 0(%rsp), %xmm0\n  movdqu 16(%rsp), %xmm1\n  movdqu 32(%rsp), %xmm2\n  movdqu 48(%rsp), %xmm3\n"
    "  movdqu 64(%rsp), %xmm4\n  movdqu 80(%rsp), %xmm5\n  movdqu 96(%rsp), %xmm6\n  movdqu 112(%rsp), %xmm7\n"
    "  addq $136, %rsp\n"
    "  popq %r11\n  popq %rax\n  popq %r9\n  popq %r8\n"
    "  popq %rcx\n  popq %rdx\n  popq %rsi\n  popq %rdi\n"
    "  leaq mlo_git_slots(%rip), %r10\n"
    "  jmp *(%r10,%r11,8)\n"
    ".size mlo_git_lazy_stub, .-mlo_git_lazy_stub\n");

#endif  // MLO_LAZY_LIBGIT2

#include <dlfcn.h>

#include "repo/git_library.h"

namespace mlo {

std::optional<std::string> libgit2_load_error() {
#ifdef MLO_LAZY_LIBGIT2
  // Asked once per process (doctor asks for its versions and its checks);
  // dlopen is reference-counted, so the first git call's load finds it open.
  static const std::optional<std::string> error = []() -> std::optional<std::string> {
    if (dlopen(MLO_LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL)) return std::nullopt;
    const char* why = dlerror();
    std::string message = MLO_LIBGIT2_SONAME;  // appended, not chained: GCC 12 warns falsely on a+b+c here
    message += ": ";
    message += why ? why : "unknown error";
    return message;
  }();
  return error;
#else
  return std::nullopt;  // linked: the program would not have started without it
#endif
}

}  // namespace mlo
