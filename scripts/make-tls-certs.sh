#!/usr/bin/env bash
# Test certificates for ZooKeeper's TLS port (secureClientPort), for development, the docker compose
# `tls` profile and the test suite. Needs openssl and keytool (from a JDK/JRE).
#
#   bash scripts/make-tls-certs.sh [DIR]      (default DIR: ./tls)
#
# Writes to DIR:
#   ca.pem ca.key                 the CA that signs everything below (trust it: tls.ca / ZOOKEEPER_TLS_CA_FILE)
#   server.pem server.key         the server certificate: SAN IP:127.0.0.1, DNS:localhost and the compose host names
#   svc1.pem svc1.key             client certificate CN=svc-1,O=acme (x509 ACL id "CN=svc-1,O=acme")
#   svc2.pem svc2.key             client certificate CN=svc-2,O=acme
#   rogue-ca.pem rogue.pem rogue.key   a CA nobody trusts, and a client certificate it signed
#   keystore.p12 truststore.p12   PKCS12 stores for zoo.cfg (ssl.keyStore / ssl.trustStore), password in store-password
# The certificates are valid for 30 days (TLS_CERT_DAYS) and are for tests only.
set -euo pipefail
dir="${1:-tls}"
days="${TLS_CERT_DAYS:-30}"
password="${TLS_STORE_PASSWORD:-zk-test-secret}"
for tool in openssl keytool; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make-tls-certs: $tool is missing (Debian: apt-get install openssl default-jre-headless)" >&2; exit 1; }
done
mkdir -p "$dir"
cd "$dir"
rm -f keystore.p12 truststore.p12

ca() { # name
  openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" 2>/dev/null
}
signed() { # ca name subject extensions
  openssl req -newkey rsa:2048 -nodes -subj "$3" -keyout "$2.key" -out "$2.csr" 2>/dev/null
  printf '%b' "$4" >"$2.ext"
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -days "$days" -out "$2.pem" -extfile "$2.ext" 2>/dev/null
  rm -f "$2.csr" "$2.ext"
}

ca ca
ca rogue-ca
signed ca server /O=zk-test/CN=localhost \
  'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:zk-tls,DNS:zk1,DNS:zk2,DNS:zk3\nextendedKeyUsage=serverAuth,clientAuth\n'
signed ca svc1 /O=acme/CN=svc-1 'extendedKeyUsage=clientAuth\n'
signed ca svc2 /O=acme/CN=svc-2 'extendedKeyUsage=clientAuth\n'
signed rogue-ca rogue /O=acme/CN=svc-1 'extendedKeyUsage=clientAuth\n'
openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name server \
  -out keystore.p12 -passout "pass:$password"
keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 -storetype PKCS12 \
  -storepass "$password" >/dev/null 2>&1
printf '%s\n' "$password" >store-password
chmod 644 ./*.pem ./*.key ./*.p12 store-password # the compose profile's server runs as another user
echo "make-tls-certs: certificates in $(pwd)"
