#include "testing/tls_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>

namespace liaison::testing {
namespace {

bool AddExtension(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  const bool ok = ext != nullptr && X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

bool WriteSelfSignedCert(const std::filesystem::path& cert, const std::filesystem::path& key,
                         const std::string& common_name) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  if (pkey == nullptr) return false;
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  bool ok = AddExtension(x, &ctx, NID_subject_alt_name, "IP:127.0.0.1") &&
            AddExtension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
            X509_sign(x, pkey, EVP_sha256()) > 0;
  FILE* f = std::fopen(cert.c_str(), "w");
  ok = ok && f && PEM_write_X509(f, x);
  if (f) std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  ok = ok && f && PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  if (f) std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return ok;
}

}  // namespace liaison::testing
