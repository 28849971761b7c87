# pki.sh: a small certificate authority for the authentication tests (auth.sh, clock.sh), made
# with openssl. Before sourcing: PKI, the directory it writes to. pki_init writes the extension
# profiles (ca_ext, int_ext, leaf_ext); root and issue then make certificates valid for 30 days.
# shellcheck shell=bash

# ossl CMD...: an openssl command, quiet unless it fails.
ossl()
{
	if ! openssl "$@" > "$PKI/openssl.log" 2>&1; then
		cat "$PKI/openssl.log" >&2
		echo "failed: openssl $*" >&2
		return 1
	fi
}

# spki CERT: base64 of SHA-256 of the certificate's DER SubjectPublicKeyInfo (RFC 7469).
spki()
{
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -binary | openssl base64 -A
}

# key NAME: an ECDSA P-256 key NAME.key.
key()
{
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key"
}

# root NAME SUBJECT [SKID]: a self-signed CA NAME.pem (SKID: its subjectKeyIdentifier, in hex).
root()
{
	key "$1"
	ossl req -new -x509 -config "$PKI/openssl.cnf" -key "$PKI/$1.key" -out "$PKI/$1.pem" \
		-subj "$2" -days 30 -sha256 -set_serial "0x$(openssl rand -hex 8)" \
		-extensions ca_ext ${3:+-addext "subjectKeyIdentifier=$3"}
}

# issue NAME ISSUER EXT SUBJECT [SAN [KEY]]: NAME.pem signed by ISSUER, for the key KEY.key
# (default NAME.key), made if it does not exist yet.
issue()
{
	local name=$1 issuer=$2 ext=$3 subject=$4 san=${5:-} k=${6:-$1}
	[[ -f $PKI/$k.key ]] || key "$k"
	ossl req -new -config "$PKI/openssl.cnf" -key "$PKI/$k.key" -subj "$subject" \
		-out "$PKI/$name.csr"
	{
		cat "$PKI/openssl.cnf"
		echo "[this_ext]"
		sed -n "/^\[$ext\]/,/^\[/p" "$PKI/openssl.cnf" | sed '1d;/^\[/d'
		if [[ -n $san ]]; then
			echo "subjectAltName = $san"
		fi
	} > "$PKI/$name.cnf"
	ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$issuer.pem" -CAkey "$PKI/$issuer.key" \
		-out "$PKI/$name.pem" -days 30 -sha256 -set_serial "0x$(openssl rand -hex 8)" \
		-extfile "$PKI/$name.cnf" -extensions this_ext
}

# pki_init: the directory and the profiles; OPENSSL_CONF points at them until unset.
pki_init()
{
	mkdir -p "$PKI"
	cat > "$PKI/openssl.cnf" << 'EOF'
[req]
distinguished_name = dn
prompt = no

[dn]

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[int_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	export OPENSSL_CONF=$PKI/openssl.cnf
}
