/* The reference for large files: the pipeline of one envelope written directly in C on
 * libgcrypt (the chunk work of FORMAT.md §3-§4, the transcript, and per file an RSA-3072
 * PSS signature over it and an RSA-3072 OAEP wrap of the content key, as issue 12 defines
 * its reference), with nothing else (no header, no certificates, no key file to unlock), so
 * that benchmarks/scripts/large-file.sh can report sealdrop's speed as a ratio against
 * libgcrypt's in the same run.
 *
 *   seal-reference keygen KEY
 *   seal-reference seal|open|open-one-pass cbc-hmac|gcm INPUT OUTPUT THREADS KEY
 *
 * keygen writes an RSA-3072 key pair (a canonical S-expression) to KEY, once, untimed. seal
 * signs the transcript's SHA-256 with RSA-PSS and wraps the content key with RSA-OAEP
 * (SHA-256), and writes both (384 bytes each) to OUTPUT.rsa; open checks the signature over
 * its first pass's transcript, then unwraps the key, before its second pass (open-one-pass
 * unwraps first and checks the signature at the end).
 *
 * Chunks of 1 MiB, as sealdrop's default, scheduled as sealdrop schedules them: worker
 * threads (one per core) take chunks in order and read each from the input at its position
 * (pread), while the main thread reads only the framing (open) and writes out, in order,
 * the ones done, with at most threads + 2 chunks in flight:
 *   cbc-hmac: IV = HMAC-SHA256(k_iv, u64(i))[0..16], AES-256-CBC (PKCS#7 on the last chunk),
 *             tag = HMAC-SHA256(k_mac, u64(i) || flag || u32(len) || ciphertext);
 *   gcm:      AES-256-GCM, nonce flag || 000000 || u64(i), AAD flag || u32(len), 16-byte tag,
 *             and the commitment SHA256(ciphertext || tag).
 * open reads the envelope as FORMAT.md §7.1 and §11 require of a reader (the signature checked
 * before the key is used): a first pass computes each chunk's commitment, hashed in order
 * into the transcript (gcm: SHA-256 of ciphertext and tag; cbc-hmac: the tag, so its
 * ciphertext is not read), and keeps what identifies each chunk (gcm: a GMAC under a random
 * key over flag, length, ciphertext and tag; cbc-hmac: the tag); a second pass checks each
 * chunk against that, checks its tag (cbc-hmac: before decrypting) and decrypts.
 * open-one-pass decrypts in one pass, as no conforming reader may: it would use the key
 * before the signature is checked. Each chunk is framed as flag, u32 length, ciphertext, tag.
 * Build: cc -O2 -o seal-reference seal-reference.c -lgcrypt -lpthread
 */
#include <gcrypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define RSA_BYTES 384

static int gcm, opening, threads = 2;
/* Which pass: 0 sealing or opening in one pass, 1 the first of two (nothing decrypted), 2 the second. */
static int pass;
static unsigned char k_enc[32], k_mac[32], k_iv[32], k_check[32];
/* What the first pass kept of each chunk, 32 bytes each, for the second. */
static unsigned char *checks;
static size_t checks_kept, checks_room;
/* The transcript hashes each chunk's commitment in order (sealing, and opening's first pass). */
static gcry_md_hd_t transcript;

struct job {
    uint64_t index;
    int final;
    off_t in_offset;
    size_t in_len, read_len, out_len;
    unsigned char commitment[32], check[32];
    unsigned char *in, *out;
    unsigned char tag[32];
    int failed;
    int done;
};

static void die(const char *what) { fprintf(stderr, "seal-reference: %s\n", what); exit(1); }

/* The key pair: keygen's S-expression, read whole. */
static gcry_sexp_t key_pair, public_key, private_key;

static void rsa_keygen(const char *path) {
    gcry_sexp_t params, pair;
    if (gcry_sexp_build(&params, NULL, "(genkey (rsa (nbits 4:3072)))") || gcry_pk_genkey(&pair, params)) die("genkey");
    size_t n = gcry_sexp_sprint(pair, GCRYSEXP_FMT_CANON, NULL, 0);
    char *buffer = malloc(n);
    if (!buffer) die("out of memory");
    gcry_sexp_sprint(pair, GCRYSEXP_FMT_CANON, buffer, n);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buffer, 1, n - 1, f) != n - 1 || fclose(f) != 0) die("cannot write the key");
}

static void rsa_load(const char *path) {
    static char buffer[16384];
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read the key");
    size_t n = fread(buffer, 1, sizeof buffer, f);
    fclose(f);
    if (gcry_sexp_new(&key_pair, buffer, n, 1)) die("not a key");
    public_key = gcry_sexp_find_token(key_pair, "public-key", 0);
    private_key = gcry_sexp_find_token(key_pair, "private-key", 0);
    if (!public_key || !private_key) die("not a key pair");
}

/* The one value of an RSA result (sig-val or enc-val), left-padded to RSA_BYTES. */
static void rsa_value(gcry_sexp_t result, const char *token, unsigned char out[RSA_BYTES]) {
    gcry_sexp_t value = gcry_sexp_find_token(result, token, 0);
    size_t n = 0;
    const char *data = value ? gcry_sexp_nth_data(value, 1, &n) : NULL;
    if (!data || n > RSA_BYTES) die("RSA result");
    memset(out, 0, RSA_BYTES);
    memcpy(out + RSA_BYTES - n, data, n);
    gcry_sexp_release(value);
}

/* What PSS signs: the transcript's digest, with a 32-byte salt. */
#define PSS_DATA "(data (flags pss) (hash sha256 %b) (salt-length 2:32))"

/* gcry_pk_sign or gcry_pk_encrypt (named `what`) of 32 bytes put into the data
 * S-expression `format`, its one value (`token`) left-padded into out. */
static void rsa_apply(gcry_error_t (*operation)(gcry_sexp_t *, gcry_sexp_t, gcry_sexp_t), const char *what,
                      gcry_sexp_t key, const char *format, const unsigned char in[32], const char *token,
                      unsigned char out[RSA_BYTES]) {
    gcry_sexp_t data, result;
    if (gcry_sexp_build(&data, NULL, format, 32, in)) die("sexp");
    if (operation(&result, data, key)) die(what);
    rsa_value(result, token, out);
    gcry_sexp_release(data); gcry_sexp_release(result);
}

static void pss_sign(const unsigned char digest[32], unsigned char signature[RSA_BYTES]) {
    rsa_apply(gcry_pk_sign, "sign", private_key, PSS_DATA, digest, "s", signature);
}

static void pss_verify(const unsigned char digest[32], const unsigned char signature[RSA_BYTES]) {
    gcry_sexp_t data, sig;
    if (gcry_sexp_build(&data, NULL, PSS_DATA, 32, digest)) die("sexp");
    if (gcry_sexp_build(&sig, NULL, "(sig-val (rsa (s %b)))", RSA_BYTES, signature)) die("sexp");
    if (gcry_pk_verify(sig, data, public_key)) die("the signature does not verify");
    gcry_sexp_release(data); gcry_sexp_release(sig);
}

static void oaep_wrap(const unsigned char key[32], unsigned char wrapped[RSA_BYTES]) {
    rsa_apply(gcry_pk_encrypt, "encrypt", public_key, "(data (flags oaep) (hash-algo sha256) (value %b))", key, "a", wrapped);
}

/* Unwraps the content key and checks it is the one the chunks were sealed under. */
static void oaep_unwrap(const unsigned char wrapped[RSA_BYTES], const unsigned char expected[32]) {
    gcry_sexp_t data, result;
    if (gcry_sexp_build(&data, NULL, "(enc-val (flags oaep) (hash-algo sha256) (rsa (a %b)))", RSA_BYTES, wrapped)) die("sexp");
    if (gcry_pk_decrypt(&result, data, private_key)) die("unwrap");
    size_t n = 0;
    const char *key = gcry_sexp_nth_data(result, 1, &n);
    if (!key || n != 32 || memcmp(key, expected, 32) != 0) die("the unwrapped key is not the content key");
    gcry_sexp_release(data); gcry_sexp_release(result);
}

/* OUTPUT.rsa (seal) or INPUT.rsa (open): the signature, then the wrapped key. */
static void rsa_file(const char *envelope, unsigned char signature[RSA_BYTES], unsigned char wrapped[RSA_BYTES], int write) {
    char path[4096];
    snprintf(path, sizeof path, "%s.rsa", envelope);
    FILE *f = fopen(path, write ? "wb" : "rb");
    if (!f) die("cannot open the .rsa file");
    size_t n = write ? fwrite(signature, 1, RSA_BYTES, f) + fwrite(wrapped, 1, RSA_BYTES, f)
                     : fread(signature, 1, RSA_BYTES, f) + fread(wrapped, 1, RSA_BYTES, f);
    if (n != 2 * RSA_BYTES || fclose(f) != 0) die("the .rsa file");
}

static int in_fd;

/* Exactly n bytes of the input at offset, or dies. */
static void read_at(unsigned char *p, size_t n, off_t offset) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(in_fd, p + got, n - got, offset + (off_t)got);
        if (r <= 0) die("truncated");
        got += (size_t)r;
    }
}

static void put_be64(unsigned char *p, uint64_t v) { for (int i = 7; i >= 0; i--) { p[i] = v & 0xff; v >>= 8; } }
static void put_be32(unsigned char *p, uint32_t v) { for (int i = 3; i >= 0; i--) { p[i] = v & 0xff; v >>= 8; } }

static void hmac(const unsigned char *key, const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
                 unsigned char out[32]) {
    gcry_mac_hd_t h;
    if (gcry_mac_open(&h, GCRY_MAC_HMAC_SHA256, 0, NULL)) die("mac_open");
    gcry_mac_setkey(h, key, 32);
    gcry_mac_write(h, a, alen);
    if (blen) gcry_mac_write(h, b, blen);
    size_t n = 32;
    gcry_mac_read(h, out, &n);
    gcry_mac_close(h);
}

/* What identifies a gcm chunk: GMAC under k_check, nonce u64(i) || 0000, over flag || u32(len) || ciphertext || tag. */
static void gcm_check(struct job *j) {
    unsigned char nonce[12] = {0}, head[5];
    put_be64(nonce, j->index);
    head[0] = (unsigned char)j->final; put_be32(head + 1, (uint32_t)j->in_len);
    gcry_mac_hd_t h;
    if (gcry_mac_open(&h, GCRY_MAC_GMAC_AES, 0, NULL)) die("mac_open");
    gcry_mac_setkey(h, k_check, 32);
    gcry_mac_setiv(h, nonce, 12);
    gcry_mac_write(h, head, 5);
    gcry_mac_write(h, j->in, j->in_len);
    gcry_mac_write(h, j->tag, 16);
    size_t n = 16;
    memset(j->check, 0, 32);
    gcry_mac_read(h, j->check, &n);
    gcry_mac_close(h);
}

static void cbc_hmac(struct job *j) {
    unsigned char counter[8], iv[32], head[13];
    /* Opening, the commitment and the check are the tag read: HMAC binds the ciphertext to it. */
    if (opening) {
        memcpy(j->commitment, j->tag, 32);
        memcpy(j->check, j->tag, 32);
    }
    if (pass == 1) return;
    put_be64(counter, j->index);
    hmac(k_iv, counter, 8, NULL, 0, iv);
    gcry_cipher_hd_t c;
    if (gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_CBC, 0)) die("cipher_open");
    gcry_cipher_setkey(c, k_enc, 32);
    gcry_cipher_setiv(c, iv, 16);
    if (!opening) {
        size_t len = j->in_len;
        memcpy(j->out, j->in, len);
        if (j->final) {
            size_t pad = 16 - len % 16;
            memset(j->out + len, (int)pad, pad);
            len += pad;
        }
        gcry_cipher_encrypt(c, j->out, len, NULL, 0);
        j->out_len = len;
        put_be64(head, j->index); head[8] = (unsigned char)j->final; put_be32(head + 9, (uint32_t)len);
        hmac(k_mac, head, 13, j->out, len, j->tag);
        memcpy(j->commitment, j->tag, 32);
    } else {
        unsigned char expected[32];
        put_be64(head, j->index); head[8] = (unsigned char)j->final; put_be32(head + 9, (uint32_t)j->in_len);
        hmac(k_mac, head, 13, j->in, j->in_len, expected);
        if (memcmp(expected, j->tag, 32) != 0) { j->failed = 1; gcry_cipher_close(c); return; }
        gcry_cipher_decrypt(c, j->out, j->in_len, j->in, j->in_len);
        j->out_len = j->in_len;
        if (j->final) j->out_len -= j->out[j->in_len - 1];
    }
    gcry_cipher_close(c);
}

static void gcm_chunk(struct job *j) {
    size_t len = j->in_len;
    gcry_md_hd_t sha;
    if (pass != 2) {
        /* The commitment, SHA256(ciphertext || tag): the one pass hashes it beside the cipher,
         * the first of two hashes it (and keeps the chunk's check) and stops there. */
        gcry_md_open(&sha, GCRY_MD_SHA256, 0);
        if (opening) gcry_md_write(sha, j->in, len);
    }
    if (pass == 1) {
        gcry_md_write(sha, j->tag, 16);
        memcpy(j->commitment, gcry_md_read(sha, GCRY_MD_SHA256), 32);
        gcry_md_close(sha);
        gcm_check(j);
        return;
    }
    if (pass == 2) gcm_check(j);
    unsigned char nonce[12] = {0}, aad[5];
    nonce[0] = (unsigned char)j->final;
    put_be64(nonce + 4, j->index);
    aad[0] = (unsigned char)j->final; put_be32(aad + 1, (uint32_t)len);
    gcry_cipher_hd_t c;
    if (gcry_cipher_open(&c, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0)) die("cipher_open");
    gcry_cipher_setkey(c, k_enc, 32);
    gcry_cipher_setiv(c, nonce, 12);
    gcry_cipher_authenticate(c, aad, 5);
    gcry_cipher_final(c);
    if (!opening) {
        gcry_cipher_encrypt(c, j->out, len, j->in, len);
        gcry_cipher_gettag(c, j->tag, 16);
        gcry_md_write(sha, j->out, len);
    } else {
        gcry_cipher_decrypt(c, j->out, len, j->in, len);
        if (gcry_cipher_checktag(c, j->tag, 16)) j->failed = 1;
    }
    if (pass != 2) {
        gcry_md_write(sha, j->tag, 16);
        memcpy(j->commitment, gcry_md_read(sha, GCRY_MD_SHA256), 32);
        gcry_md_close(sha);
    }
    gcry_cipher_close(c);
    j->out_len = len;
}

/* The chunks in flight, by sequence number modulo ring_size; workers take them in order. */
static struct job ring[66];
static int ring_size;
static uint64_t submitted, taken, written;
static int closing;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;

static void *worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (taken == submitted && !closing) pthread_cond_wait(&queued, &lock);
        if (taken == submitted) break;
        struct job *j = &ring[taken++ % ring_size];
        pthread_mutex_unlock(&lock);
        read_at(j->in, j->read_len, j->in_offset);
        if (gcm) gcm_chunk(j); else cbc_hmac(j);
        pthread_mutex_lock(&lock);
        j->done = 1;
        pthread_cond_broadcast(&finished);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Waits for the oldest chunk in flight and writes it out. */
static void write_oldest(FILE *out, size_t tag_len) {
    struct job *j = &ring[written++ % ring_size];
    pthread_mutex_lock(&lock);
    while (!j->done) pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
    if (j->failed) die("a tag did not verify");
    if (pass != 2) gcry_md_write(transcript, j->commitment, 32);
    if (pass == 1) {
        if (checks_kept == checks_room) {
            checks_room = checks_room ? 2 * checks_room : 1024;
            if (!(checks = realloc(checks, checks_room * 32))) die("out of memory");
        }
        memcpy(checks + 32 * checks_kept++, j->check, 32);
        return;
    }
    if (pass == 2 && (j->index >= checks_kept || memcmp(checks + 32 * j->index, j->check, 32) != 0)) {
        die("a chunk changed between the passes");
    }
    if (!opening) {
        unsigned char frame[5];
        frame[0] = (unsigned char)j->final;
        put_be32(frame + 1, (uint32_t)j->out_len);
        fwrite(frame, 1, 5, out);
        fwrite(j->out, 1, j->out_len, out);
        fwrite(j->tag, 1, tag_len, out);
    } else {
        fwrite(j->out, 1, j->out_len, out);
    }
}

/* One pass over the input: this thread reads the framing (when opening) and writes out, in
 * order, the chunks the workers are done with. */
static void run_pass(FILE *out, off_t size, size_t tag_len) {
    off_t position = 0;
    int done = 0;
    submitted = taken = written = 0;
    while (!done) {
        if (submitted - written == (uint64_t)ring_size) write_oldest(out, tag_len);
        struct job *j = &ring[submitted % ring_size];
        j->index = submitted;
        j->failed = 0;
        j->done = 0;
        if (!opening) {
            j->in_len = size - position < CHUNK ? (size_t)(size - position) : CHUNK;
            j->in_offset = position;
            position += (off_t)j->in_len;
            j->final = position == size;
        } else {
            unsigned char frame[5];
            read_at(frame, 5, position);
            j->final = frame[0];
            j->in_len = ((size_t)frame[1] << 24) | ((size_t)frame[2] << 16) | ((size_t)frame[3] << 8) | frame[4];
            if (j->in_len > CHUNK + 16) die("chunk too long");
            j->in_offset = position + 5;
            read_at(j->tag, tag_len, j->in_offset + (off_t)j->in_len);
            position = j->in_offset + (off_t)j->in_len + (off_t)tag_len;
        }
        /* The first pass over cbc-hmac needs only the tags: its ciphertext is not read. */
        j->read_len = pass == 1 && !gcm ? 0 : j->in_len;
        done = j->final;
        pthread_mutex_lock(&lock);
        submitted++;
        pthread_cond_signal(&queued);
        pthread_mutex_unlock(&lock);
    }
    while (written < submitted) write_oldest(out, tag_len);
}

int main(int argc, char **argv) {
    if (!gcry_check_version(GCRYPT_VERSION)) die("libgcrypt version mismatch");
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    if (argc == 3 && strcmp(argv[1], "keygen") == 0) {
        rsa_keygen(argv[2]);
        return 0;
    }
    if (argc != 7) die("usage: seal-reference seal|open|open-one-pass cbc-hmac|gcm INPUT OUTPUT THREADS KEY, or keygen KEY");
    int one_pass = strcmp(argv[1], "open-one-pass") == 0;
    opening = one_pass || strcmp(argv[1], "open") == 0;
    gcm = strcmp(argv[2], "gcm") == 0;
    threads = atoi(argv[5]);
    if (threads < 1 || threads > 64) die("threads must be 1 to 64");
    rsa_load(argv[6]);
    unsigned char signature[RSA_BYTES], wrapped[RSA_BYTES];
    if (opening) rsa_file(argv[3], signature, wrapped, 0);
    /* Fixed keys: the reference measures speed, and open must read what seal wrote. */
    memset(k_enc, 1, 32); memset(k_mac, 2, 32); memset(k_iv, 3, 32);
    in_fd = open(argv[3], O_RDONLY);
    FILE *out = fopen(argv[4], "wb");
    struct stat info;
    if (in_fd < 0 || !out || fstat(in_fd, &info) != 0) die("cannot open the input or the output");
    off_t size = info.st_size;
    ring_size = threads + 2;
    pthread_t tids[64];
    for (int t = 0; t < ring_size; t++) {
        ring[t].in = malloc(CHUNK + 64);
        ring[t].out = malloc(CHUNK + 64);
        if (!ring[t].in || !ring[t].out) die("out of memory");
    }
    for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker, NULL);
    size_t tag_len = gcm ? 16 : 32;
    gcry_md_open(&transcript, GCRY_MD_SHA256, 0);
    if (!opening) {
        run_pass(out, size, tag_len);
        pss_sign(gcry_md_read(transcript, GCRY_MD_SHA256), signature);
        oaep_wrap(k_enc, wrapped);
        rsa_file(argv[4], signature, wrapped, 1);
    } else if (one_pass) {
        oaep_unwrap(wrapped, k_enc);
        run_pass(out, size, tag_len);
        pss_verify(gcry_md_read(transcript, GCRY_MD_SHA256), signature);
    } else {
        /* The first pass's transcript is what the signature is checked against, before the
         * key is unwrapped. */
        gcry_randomize(k_check, 32, GCRY_STRONG_RANDOM);
        pass = 1;
        run_pass(out, size, tag_len);
        pss_verify(gcry_md_read(transcript, GCRY_MD_SHA256), signature);
        oaep_unwrap(wrapped, k_enc);
        pass = 2;
        run_pass(out, size, tag_len);
        if (written != checks_kept) die("a chunk changed between the passes");
    }
    gcry_md_close(transcript);
    pthread_mutex_lock(&lock);
    closing = 1;
    pthread_cond_broadcast(&queued);
    pthread_mutex_unlock(&lock);
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    if (fclose(out) != 0) die("cannot write the output");
    close(in_fd);
    return 0;
}
