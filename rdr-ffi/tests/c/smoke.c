/* Drives the C ABI from C: create, open, read config, wrong password. */
#include <stdio.h>
#include <string.h>
#include "rdr.h"

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: smoke DIR\n"); return 2; }
    RdrRepo *r = rdr_init(argv[1], "c-secret", 10);
    if (!r) { fprintf(stderr, "init: %d %s\n", rdr_last_error_code(), rdr_last_error_message()); return 1; }
    rdr_close(r);
    r = rdr_open(argv[1], "c-secret");
    if (!r) { fprintf(stderr, "open: %s\n", rdr_last_error_message()); return 1; }
    char *json = rdr_config_json(r);
    if (!json || !strstr(json, "\"version\":2")) { fprintf(stderr, "config: %s\n", json ? json : "NULL"); return 1; }
    printf("%s\n", json);
    rdr_string_free(json);
    rdr_close(r);
    if (rdr_open(argv[1], "wrong") != NULL || rdr_last_error_code() != RDR_ERR_WRONG_PASSWORD) {
        fprintf(stderr, "wrong password not reported\n"); return 1;
    }
    printf("wrong password: %s\n", rdr_last_error_message());
    return 0;
}
