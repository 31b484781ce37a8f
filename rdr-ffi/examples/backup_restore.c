/* rdr from C: create a repository, back up a folder and a stream, list,
 * restore, dump, check, copy, drill, apply retention and prune, and report
 * errors. The tests compile this with cc and run it under valgrind.
 *
 *   cc backup_restore.c -I rdr-ffi/include -L target/release -lrdr -o backup_restore
 *   ./backup_restore SOURCE_DIR REPOSITORY WORK_DIR
 *
 * REPOSITORY is any location (a path, s3:…, sftp:…; storage credentials
 * from the environment); WORK_DIR gets the restore and a local copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rdr.h"

static int fail(const char *what) {
    fprintf(stderr, "%s failed: [%d] %s\n", what, rdr_last_error_code(), rdr_last_error_message());
    return 1;
}

/* Prints a report and frees it; NULL means the call failed. */
static int report(const char *what, char *json) {
    if (!json) return fail(what);
    printf("%s: %.200s\n", what, json);
    rdr_string_free(json);
    return 0;
}

static void on_progress(const char *event_json, void *user_data) {
    int *events = user_data;
    (*events)++;
    if (*events == 1) printf("first progress event: %s\n", event_json);
}

/* A stream source: hands out a fixed text in small pieces. */
struct text_source { const char *text; size_t at; };

static ptrdiff_t read_text(void *user_data, uint8_t *buf, size_t len) {
    struct text_source *s = user_data;
    size_t left = strlen(s->text) - s->at;
    size_t n = left < len ? left : len;
    if (n > 7) n = 7;
    memcpy(buf, s->text + s->at, n);
    s->at += n;
    return (ptrdiff_t)n;
}

/* A dump sink: collects the bytes in a buffer. */
struct buffer { char data[256]; size_t len; };

static int write_buffer(void *user_data, const uint8_t *buf, size_t len) {
    struct buffer *b = user_data;
    if (b->len + len >= sizeof b->data) return 1;
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s SOURCE_DIR REPOSITORY WORK_DIR\n", argv[0]); return 2; }
    const char *repo_dir = argv[2];
    char copy_dir[4096], target[4096], dumped[4096], opts[8192];
    snprintf(copy_dir, sizeof copy_dir, "%s/copy", argv[3]);
    snprintf(target, sizeof target, "%s/restored", argv[3]);
    snprintf(dumped, sizeof dumped, "%s/dumped.txt", argv[3]);
    printf("librdr %s\n", rdr_version());

    RdrRepo *repo = rdr_init_with(repo_dir, "{\"password\": \"c-secret\", \"kdf_log_n\": 10}");
    if (!repo) return fail("init");

    /* a folder, with progress events and a cancel token */
    int events = 0;
    RdrCancel *cancel = rdr_cancel_new();
    RdrCallbacks cb = { on_progress, &events, cancel };
    snprintf(opts, sizeof opts, "{\"paths\": [\"%s\"], \"tags\": [\"nightly\"], \"host\": \"c-host\"}", argv[1]);
    if (report("backup", rdr_backup(repo, opts, &cb))) return 1;
    printf("progress events: %d\n", events);

    /* a stream from a read callback, and one from a file descriptor */
    struct text_source src = { "hello from a C stream\n", 0 };
    if (report("backup_read", rdr_backup_read(repo, read_text, &src,
               "{\"filename\": \"hello.txt\", \"host\": \"c-host\"}", NULL))) return 1;
    int fds[2];
    if (pipe(fds) != 0) return 1;
    if (write(fds[1], "through a pipe\n", 15) != 15) return 1;
    close(fds[1]);
    if (report("backup_fd", rdr_backup_fd(repo, fds[0], "{\"filename\": \"pipe.txt\"}", NULL))) return 1;
    close(fds[0]);

    if (report("snapshots", rdr_snapshots(repo, "{\"host\": [\"c-host\"]}"))) return 1;
    if (report("ls", rdr_ls(repo, "latest", NULL))) return 1;

    /* restore the folder snapshot (tag "nightly") and verify it */
    char *snaps = rdr_snapshots(repo, "{\"tags\": [\"nightly\"]}");
    if (!snaps) return fail("snapshots");
    char *id = strstr(snaps, "\"id\":\"");
    if (!id) { fprintf(stderr, "no snapshot id in %s\n", snaps); return 1; }
    char snap_id[65] = {0};
    memcpy(snap_id, id + 6, 64);
    rdr_string_free(snaps);
    if (report("restore", rdr_restore(repo, snap_id, target, "{\"verify\": true}", &cb))) return 1;

    /* dump the stream back through a write callback */
    struct buffer out = { {0}, 0 };
    char *snaps2 = rdr_snapshots(repo, "{\"latest\": 1, \"group_by\": \"paths\"}");
    if (!snaps2) return fail("snapshots");
    rdr_string_free(snaps2);
    if (report("dump", rdr_dump(repo, "latest", "/pipe.txt", write_buffer, &out, NULL))) return 1;
    if (out.len != 15 || memcmp(out.data, "through a pipe\n", 15) != 0) {
        fprintf(stderr, "dump returned %zu bytes: %.*s\n", out.len, (int)out.len, out.data);
        return 1;
    }

    /* and into a file descriptor */
    FILE *f = fopen(dumped, "w+");
    if (!f) return 1;
    if (report("dump_fd", rdr_dump_fd(repo, "latest", "/pipe.txt", fileno(f), NULL))) return 1;
    char back[32] = {0};
    rewind(f);
    if (fread(back, 1, sizeof back - 1, f) != 15 || strcmp(back, "through a pipe\n") != 0) {
        fprintf(stderr, "dump_fd wrote: %s\n", back);
        return 1;
    }
    fclose(f);

    if (report("check", rdr_check(repo, "{\"read_data\": true}", &cb))) return 1;
    if (report("check subset", rdr_check(repo, "{\"read_data\": \"1/2\"}", NULL))) return 1;
    if (report("drill", rdr_drill(repo, "{\"tags\": [\"nightly\"], \"rto\": \"1h\"}", NULL))) return 1;
    if (report("status", rdr_status(repo, "{\"rpo\": \"24h\"}"))) return 1;

    /* a second repository, filled by copy */
    RdrRepo *copy = rdr_init_with(copy_dir, "{\"password\": \"other\", \"kdf_log_n\": 10}");
    if (!copy) return fail("init copy");
    if (report("copy", rdr_copy(copy, repo, NULL, &cb))) return 1;
    rdr_close(copy);

    if (report("forget", rdr_forget(repo, "{\"keep_last\": 1, \"prune\": true, \"instant_delete\": true}", &cb))) return 1;
    if (report("prune", rdr_prune(repo, "{\"max_unused\": \"0%\", \"instant_delete\": true}", &cb))) return 1;

    /* a cancelled operation stops with RDR_ERR_INTERRUPTED */
    rdr_cancel_request(cancel);
    char *r = rdr_backup(repo, opts, &cb);
    if (r != NULL || rdr_last_error_code() != RDR_ERR_INTERRUPTED) return fail("cancelled backup");
    printf("cancelled: %s\n", rdr_last_error_message());
    rdr_cancel_reset(cancel);
    rdr_cancel_free(cancel);

    /* errors: bad options, wrong password */
    if (rdr_backup(repo, "{\"pathz\": []}", NULL) != NULL || rdr_last_error_code() != RDR_ERR_INVALID_ARGUMENT)
        return fail("bad options");
    printf("bad options: %s\n", rdr_last_error_message());
    rdr_close(repo);
    if (rdr_open(repo_dir, "wrong") != NULL || rdr_last_error_code() != RDR_ERR_WRONG_PASSWORD)
        return fail("wrong password");
    printf("wrong password: %s\n", rdr_last_error_message());
    printf("ok\n");
    return 0;
}
