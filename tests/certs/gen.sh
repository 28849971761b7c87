#!/bin/sh
# Throwaway test PKI for dotd's tests, made fresh with openssl on every run.
# usage: gen.sh DIR
#
# DIR receives:
#   ca.pem, ca.key              the test CA (ECDSA P-256)
#   server.pem, server.key      the DoT server: name dot.test, SAN DNS:dot.test and IP:127.0.0.1,
#                               ECDSA P-256, signed by the test CA
#   server.spki                 its pin: base64 of SHA-256 of the DER SubjectPublicKeyInfo
#   other-ca.pem, other-ca.key  an unrelated CA that signed nothing we use (unknown-CA case)
#   rsa.pem, rsa.key            a self-signed RSA 2048 certificate (name rsa.test)
#   rsa.spki                    its pin, as above
set -eu

dir=${1:?usage: gen.sh DIR}
mkdir -p "$dir"
cd "$dir"

# Our own openssl configuration: nothing from the system's file leaks into the certificates.
cat > openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no

[dn]

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:dot.test, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[rsa_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:rsa.test
subjectKeyIdentifier = hash
EOF
export OPENSSL_CONF="$PWD/openssl.cnf"

# run CMD...: run an openssl command quietly, showing its output only when it fails.
run()
{
	if ! "$@" > openssl.log 2>&1; then
		cat openssl.log >&2
		echo "gen.sh: failed: $*" >&2
		exit 1
	fi
}

# ec_key FILE: a new ECDSA P-256 private key.
ec_key()
{
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# self_signed KEY CERT SUBJECT EXTENSIONS
self_signed()
{
	run openssl req -new -x509 -config openssl.cnf -key "$1" -out "$2" -subj "$3" \
		-days 30 -sha256 -set_serial "0x$(openssl rand -hex 8)" -extensions "$4"
}

# spki CERT OUT: base64 of SHA-256 of the certificate's DER SubjectPublicKeyInfo.
spki()
{
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -binary | openssl base64 -A > "$2"
	echo >> "$2"
	[ "$(wc -c < "$2")" -eq 45 ] || { echo "gen.sh: bad pin in $2" >&2; exit 1; }
}

ec_key ca.key
self_signed ca.key ca.pem "/CN=dotd test CA" ca_ext

ec_key other-ca.key
self_signed other-ca.key other-ca.pem "/CN=dotd unrelated test CA" ca_ext

ec_key server.key
run openssl req -new -config openssl.cnf -key server.key -subj "/CN=dot.test" -out server.csr
run openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -out server.pem -days 30 \
	-sha256 -set_serial "0x$(openssl rand -hex 8)" -extfile openssl.cnf -extensions server_ext
run openssl verify -CAfile ca.pem server.pem
spki server.pem server.spki

run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
self_signed rsa.key rsa.pem "/CN=rsa.test" rsa_ext
spki rsa.pem rsa.spki

rm -f server.csr openssl.log
chmod 600 ./*.key
