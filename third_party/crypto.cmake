# OpenSSL 3 (Debian libssl-dev: SHA-256 fingerprints, scrypt and AES-256-GCM for wrapped keys)
# and zlib (zlib1g-dev: deflate in .npz files). Imported targets OpenSSL::Crypto, ZLIB::ZLIB.
find_package(OpenSSL 3 REQUIRED)
find_package(ZLIB REQUIRED)
