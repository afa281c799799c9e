#!/bin/sh
# Makes a throw-away PKI for the TLS tests with the openssl CLI, into directory $1:
#   ca.pem ca.key          "SwiftWS Test CA" (the CA the tests trust)
#   server.pem server.key  CN=localhost, SAN DNS:localhost IP:127.0.0.1, signed by the CA
#   chain.pem              server.pem followed by ca.pem
#   expired.pem            the same key and names, expired since yesterday
#   other-name.pem         the same key, SAN DNS:other.test (a second certificate chosen by SNI)
#   client.pem client.key  CN=test client, for mutual TLS
#   server-encrypted.key   server.key encrypted (PKCS#8, AES-256) with the password swiftws-test
#   other-ca.pem other.pem other.key   a second CA the tests do not trust, and a server cert from it
# Idempotent: does nothing when $1/ready exists, is newer than this script and less than a day
# old. Anything else in $1 is made again: callers name the directory after their process id,
# and a reused id must not find an earlier run's files (an older script's list, or expired).
# Certificates are valid for 2 days.
set -eu
dir=$1
if [ -f "$dir/ready" ] && [ "$dir/ready" -nt "$0" ] && [ -n "$(find "$dir/ready" -mmin -1440)" ]; then
    exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=SwiftWS Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
key other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 2 -subj "/CN=Unknown Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > server.ext
printf 'basicConstraints=CA:FALSE\n' > client.ext
printf 'subjectAltName=DNS:other.test\nbasicConstraints=CA:FALSE\n' > other-name.ext
sign() { # csr-key subject out ca days ext
    openssl req -new -key "$1" -subj "$2" -out "$3.csr" 2>/dev/null
    openssl x509 -req -in "$3.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -out "$3" -days "$5" -extfile "$6" 2>/dev/null
    rm -f "$3.csr"
}
key server.key
sign server.key "/CN=localhost" server.pem ca 2 server.ext
sign server.key "/CN=localhost" expired.pem ca -1 server.ext
sign server.key "/CN=other.test" other-name.pem ca 2 other-name.ext
cat server.pem ca.pem > chain.pem
openssl pkey -in server.key -aes256 -passout pass:swiftws-test -out server-encrypted.key 2>/dev/null
key client.key
sign client.key "/CN=test client" client.pem ca 2 client.ext
key other.key
sign other.key "/CN=localhost" other.pem other-ca 2 server.ext
touch ready
