// libcurl is loaded on first use instead of at program start.
//
// Debian's libcurl pulls in ~30 shared libraries (krb5, ldap, ssh2, nghttp2,
// idn2, ...). Linking it normally makes the dynamic loader map and relocate all
// of them for every mlo invocation, which alone costs ~4 ms — most of the
// budget for `mlo --version` (5 ms). Only remote transfers and `mlo doctor`
// need curl, so the binary does not link it: this file defines the handful of
// curl entry points mlo calls and forwards each to the real function, resolved
// with dlopen/dlsym the first time any of them is used. The declarations (and
// so the types and constants) still come from <curl/curl.h>.
//
// Adding a call to a curl function not defined here fails at link time: add a
// forwarder below.
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>
#include <string>

#include "core/error.h"
#include "remote/curl_library.h"

namespace {

void* libcurl_handle() {
  static void* handle = nullptr;
  static std::string load_error;
  static std::once_flag once;
  std::call_once(once, [] {
    handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      load_error = why ? why : "unknown error";
    }
  });
  if (!handle)
    throw mlo::RemoteError("cannot load libcurl (libcurl.so.4): " + load_error,
                           "install it: apt-get install libcurl4");
  return handle;
}

template <typename Fn>
Fn resolve(const char* name) {
  void* sym = dlsym(libcurl_handle(), name);
  if (!sym) throw mlo::RemoteError(std::string("libcurl.so.4 lacks ") + name, "install a libcurl 7.68 or newer");
  return reinterpret_cast<Fn>(sym);
}

// One static function pointer per entry point, resolved once.
#define MLO_CURL_FN(name) \
  static const auto real = resolve<decltype(&::name)>(#name)

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  MLO_CURL_FN(curl_global_init);
  return real(flags);
}

CURL* curl_easy_init(void) {
  MLO_CURL_FN(curl_easy_init);
  return real();
}

void curl_easy_cleanup(CURL* handle) {
  MLO_CURL_FN(curl_easy_cleanup);
  real(handle);
}

void curl_easy_reset(CURL* handle) {
  MLO_CURL_FN(curl_easy_reset);
  real(handle);
}

CURLcode curl_easy_perform(CURL* handle) {
  MLO_CURL_FN(curl_easy_perform);
  return real(handle);
}

const char* curl_easy_strerror(CURLcode code) {
  MLO_CURL_FN(curl_easy_strerror);
  return real(code);
}

// curl_easy_setopt is variadic but always takes exactly one argument, whose
// type follows from the option's numeric range (see CURLOPTTYPE_* in curl.h).
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
  MLO_CURL_FN(curl_easy_setopt);
  va_list args;
  va_start(args, option);
  CURLcode result;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    result = real(handle, option, va_arg(args, long));
  } else if (option < CURLOPTTYPE_OFF_T) {
    // Object and function pointers share one representation on every
    // platform curl supports.
    result = real(handle, option, va_arg(args, void*));
  } else if (option < CURLOPTTYPE_BLOB) {
    result = real(handle, option, va_arg(args, curl_off_t));
  } else {
    result = real(handle, option, va_arg(args, void*));
  }
  va_end(args);
  return result;
}

// Every curl_easy_getinfo query writes through one pointer argument.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
  MLO_CURL_FN(curl_easy_getinfo);
  va_list args;
  va_start(args, info);
  void* out = va_arg(args, void*);
  va_end(args);
  return real(handle, info, out);
}

curl_slist* curl_slist_append(curl_slist* list, const char* text) {
  MLO_CURL_FN(curl_slist_append);
  return real(list, text);
}

void curl_slist_free_all(curl_slist* list) {
  MLO_CURL_FN(curl_slist_free_all);
  real(list);
}

curl_version_info_data* curl_version_info(CURLversion age) {
  MLO_CURL_FN(curl_version_info);
  return real(age);
}

}  // extern "C"

namespace mlo::remote {

std::optional<std::string> libcurl_load_error() {
  try {
    libcurl_handle();
    return std::nullopt;
  } catch (const RemoteError& e) {
    return std::string(e.what());
  }
}

}  // namespace mlo::remote
