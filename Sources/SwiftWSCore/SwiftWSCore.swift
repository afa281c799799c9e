// SwiftWSCore (layer 1): the sans-I/O protocol core — bytes in, events out; messages in, bytes out.
// No sockets, clocks or threads: Handshake/ (opening handshake, HTTP heads), Frames/ (wire format,
// masking), UTF8/ (validation), Close/ (close codes and payloads), Session/ (the connection state
// machine and its time policy), Deflate/ (permessage-deflate), Support/ (role, errors, randomness).
