// libcrypto is resolved with dlopen/dlsym on first use, like libcurl
// (curl_loader.cpp). Its headers give the types; nothing here defines an
// OpenSSL symbol, so binaries that do link OpenSSL (mlo-serve-native) see no clash.
#include "remote/rs256.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <mutex>

#include "core/error.h"

namespace mlo::remote {

namespace {

void* libcrypto_handle() {
  static void* handle = nullptr;
  static std::string load_error;
  static std::once_flag once;
  std::call_once(once, [] {
    handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      load_error = why ? why : "unknown error";
    }
  });
  if (!handle)
    throw RemoteError("cannot load libcrypto (libcrypto.so.3), needed to sign with a service-account key: " +
                          load_error,
                      "install it: apt-get install libssl3");
  return handle;
}

template <typename Fn>
Fn resolve(const char* name) {
  void* sym = dlsym(libcrypto_handle(), name);
  if (!sym) throw RemoteError(std::string("libcrypto.so.3 lacks ") + name, "install OpenSSL 3 (libssl3)");
  return reinterpret_cast<Fn>(sym);
}

#define MLO_CRYPTO_FN(name) resolve<decltype(&::name)>(#name)

// The libcrypto entry points the signature needs, resolved once.
struct Crypto {
  decltype(&::BIO_new_mem_buf) bio_new_mem_buf = MLO_CRYPTO_FN(BIO_new_mem_buf);
  decltype(&::BIO_free) bio_free = MLO_CRYPTO_FN(BIO_free);
  decltype(&::PEM_read_bio_PrivateKey) pem_read_private_key = MLO_CRYPTO_FN(PEM_read_bio_PrivateKey);
  decltype(&::EVP_PKEY_get_base_id) pkey_base_id = MLO_CRYPTO_FN(EVP_PKEY_get_base_id);
  decltype(&::EVP_PKEY_free) pkey_free = MLO_CRYPTO_FN(EVP_PKEY_free);
  decltype(&::EVP_MD_CTX_new) md_ctx_new = MLO_CRYPTO_FN(EVP_MD_CTX_new);
  decltype(&::EVP_MD_CTX_free) md_ctx_free = MLO_CRYPTO_FN(EVP_MD_CTX_free);
  decltype(&::EVP_sha256) sha256 = MLO_CRYPTO_FN(EVP_sha256);
  decltype(&::EVP_DigestSignInit) digest_sign_init = MLO_CRYPTO_FN(EVP_DigestSignInit);
  decltype(&::EVP_DigestSign) digest_sign = MLO_CRYPTO_FN(EVP_DigestSign);
  decltype(&::ERR_get_error) err_get = MLO_CRYPTO_FN(ERR_get_error);
  decltype(&::ERR_error_string_n) err_string = MLO_CRYPTO_FN(ERR_error_string_n);
  decltype(&::ERR_clear_error) err_clear = MLO_CRYPTO_FN(ERR_clear_error);

  static const Crypto& get() {
    static const Crypto crypto;
    return crypto;
  }

  // The first queued OpenSSL error as text (then the queue is cleared).
  std::string last_error() const {
    char text[256] = "no detail";
    if (unsigned long code = err_get()) err_string(code, text, sizeof text);
    err_clear();
    return text;
  }
};

// A passphrase prompt must never block a script: an encrypted key just fails.
int no_passphrase(char*, int, int, void*) { return 0; }

EVP_PKEY* read_rsa_key(const Crypto& c, std::string_view pem, const std::string& key_source) {
  std::unique_ptr<BIO, decltype(c.bio_free)> bio(c.bio_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                 c.bio_free);
  EVP_PKEY* key = bio ? c.pem_read_private_key(bio.get(), nullptr, no_passphrase, nullptr) : nullptr;
  if (!key)
    throw InputError(key_source + ": private_key is not a PEM private key without a passphrase (" + c.last_error() +
                         ")",
                     "download a new JSON key for the service account (IAM > Service accounts > Keys > Add key)");
  if (c.pkey_base_id(key) != EVP_PKEY_RSA) {
    c.pkey_free(key);
    throw InputError(key_source + ": private_key is not an RSA key (RS256 needs one)",
                     "download a new JSON key for the service account (IAM > Service accounts > Keys > Add key)");
  }
  return key;
}

}  // namespace

std::string rs256_sign(std::string_view pem_key, std::string_view data, const std::string& key_source) {
  const Crypto& c = Crypto::get();
  c.err_clear();
  std::unique_ptr<EVP_PKEY, decltype(c.pkey_free)> key(read_rsa_key(c, pem_key, key_source), c.pkey_free);
  std::unique_ptr<EVP_MD_CTX, decltype(c.md_ctx_free)> ctx(c.md_ctx_new(), c.md_ctx_free);
  std::string signature(1024, '\0');  // RSA up to 8192 bits
  size_t length = signature.size();
  if (!ctx || c.digest_sign_init(ctx.get(), nullptr, c.sha256(), nullptr, key.get()) != 1 ||
      c.digest_sign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                    reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw InputError(key_source + ": signing with private_key failed (" + c.last_error() + ")",
                     "download a new JSON key for the service account (IAM > Service accounts > Keys > Add key)");
  signature.resize(length);
  return signature;
}

}  // namespace mlo::remote
