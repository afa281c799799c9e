/*
 * levels: what a zlib level (and window, memLevel) costs and gains on WebSocket-sized messages,
 * for choosing PerMessageDeflateConfiguration's defaults (issue 16, round 5). Compresses a stream
 * of MSGSIZE-byte messages the way a connection does (raw DEFLATE, one Z_SYNC_FLUSH per message,
 * context takeover, the 00 00 ff ff tail dropped), inflates each back and checks it, and prints
 * compressed ÷ original. Count its instructions with valgrind; LEVEL -1 skips zlib (the baseline
 * to subtract):
 *
 *   cc -O2 -o /tmp/levels bench/zlib/levels.c -lz
 *   valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null /tmp/levels 3 12 5 chat 1024
 *
 * levels LEVEL WBITS MEMLEVEL CORPUS MSGSIZE — CORPUS: chat (chat, quote and trade JSON lines, as
 * bench/deflate/main.swift makes them) or loadgen (bench/echo/loadgen.c -J: one object whose id
 * changes); 4 MiB in all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
static unsigned long long s = 0x5EED1234ABCD0001ULL;
static unsigned long long nx(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
static int below(int n) { return (int)(nx() % (unsigned long long)n); }
int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: levels LEVEL WBITS MEMLEVEL chat|loadgen MSGSIZE\n"); return 2; }
    int level = atoi(argv[1]), wbits = atoi(argv[2]), mem = atoi(argv[3]); const char *corpus = argv[4]; int msg = atoi(argv[5]);
    int total = 4 << 20; int count = total / msg;
    char *text = malloc(total + 4096); int n = 0;
    const char *users[] = {"alice","bob","carol","dave","erin","frank","grace","heidi","ivan","judy"};
    const char *words[] = {"hello","price","order","filled","cancel","the","market","is","up","down","ok","thanks","buy","sell","limit","stop","see","you","later","news"};
    const char *syms[] = {"BTC-USD","ETH-USD","AAPL","MSFT","EUR-USD","GOOG","TSLA","SOL-USD"};
    long seq = 1700000000;
    if (!strcmp(corpus, "chat")) {
        while (n < total) {
            seq += 1 + below(3);
            switch (below(3)) {
            case 0: { n += sprintf(text + n, "{\"type\":\"chat\",\"id\":%ld,\"room\":\"lobby-%d\",\"user\":\"%s\",\"text\":\"", seq, below(20), users[below(10)]);
                int w = 3 + below(12); for (int i = 0; i < w; i++) n += sprintf(text + n, "%s ", words[below(20)]); n += sprintf(text + n, "\"}\n"); break; }
            case 1: n += sprintf(text + n, "{\"type\":\"quote\",\"ts\":%ld,\"symbol\":\"%s\",\"bid\":%d.%d,\"ask\":%d.%d,\"bidSize\":%d,\"askSize\":%d}\n", seq, syms[below(8)], 100 + below(90000), below(100), 100 + below(90000), below(100), below(5000), below(5000)); break;
            default: n += sprintf(text + n, "{\"type\":\"trade\",\"ts\":%ld,\"symbol\":\"%s\",\"price\":%d.%d,\"qty\":%d,\"side\":\"%s\"}\n", seq, syms[below(8)], 100 + below(90000), below(100), below(1000), below(2) ? "buy" : "sell"); break;
            }
        }
    } else {  /* loadgen -J: the same object, only the id differs */
        for (int i = 0; i < count; i++) {
            char *m = text + (size_t)i * msg; int k = snprintf(m, msg, "{\"id\":\"%08x%08x\",\"user\":\"alice\",\"room\":\"lobby\",\"seq\":1,\"text\":\"", i, i * 7);
            for (; k < msg - 2; k++) m[k] = "lorem ipsum dolor sit amet "[k % 27];
            m[msg - 2] = '"'; m[msg - 1] = '}';
        }
    }
    z_stream d = {0}, f = {0};
    deflateInit2(&d, level, Z_DEFLATED, -wbits, mem, Z_DEFAULT_STRATEGY);
    inflateInit2(&f, -wbits);
    unsigned char out[65536 + 1024], back[65536 + 1024];
    long long compressed = 0;
    for (int i = 0; i < count && level >= 0; i++) {
        d.next_in = (unsigned char *)text + (size_t)i * msg; d.avail_in = msg; d.next_out = out; d.avail_out = sizeof out;
        if (deflate(&d, Z_SYNC_FLUSH) != Z_OK) return 1;
        int c = (int)(sizeof out - d.avail_out) - 4; compressed += c;
        f.next_in = out; f.avail_in = c + 4; f.next_out = back; f.avail_out = sizeof back;
        if (inflate(&f, Z_SYNC_FLUSH) != Z_OK || (int)(sizeof back - f.avail_out) != msg || memcmp(back, text + (size_t)i * msg, msg)) { fprintf(stderr, "roundtrip\n"); return 1; }
    }
    printf("level=%d wbits=%d mem=%d corpus=%s msg=%d messages=%d ratio=%.4f bytes_per_msg=%.1f\n", level, wbits, mem, corpus, msg, count, (double)compressed / ((double)count * msg), (double)compressed / count);
    return 0;
}
