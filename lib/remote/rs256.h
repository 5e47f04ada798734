// RSA-SHA256 (PKCS#1 v1.5) signatures for JWTs (RS256): a GCS service-account
// key is exchanged for an OAuth token with a JWT it signs. mlo does not link
// OpenSSL (start-up, issue 14): libcrypto is dlopen'ed on the first signature.
#pragma once
#include <string>
#include <string_view>

namespace mlo::remote {

// Signs `data` with the PEM private key (PKCS#8 or PKCS#1, RSA, no passphrase)
// and returns the raw signature bytes. A key that is not such a PEM throws
// InputError naming `key_source`; a missing libcrypto throws RemoteError.
std::string rs256_sign(std::string_view pem_key, std::string_view data, const std::string& key_source);

}  // namespace mlo::remote
