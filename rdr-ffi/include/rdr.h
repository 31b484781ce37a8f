/* rdr: C ABI over rdr-core (first slice).
 *
 * Functions that return a pointer return NULL on error; then
 * rdr_last_error_code() and rdr_last_error_message() (thread-local) say why.
 * Strings returned by rdr are freed with rdr_string_free.
 * Kept in sync with rdr-ffi/src/lib.rs by the test header_matches_source. */
#ifndef RDR_H
#define RDR_H

#ifdef __cplusplus
extern "C" {
#endif

#define RDR_OK 0
#define RDR_ERR_FATAL 1
#define RDR_ERR_INVALID_ARGUMENT 2
#define RDR_ERR_NO_REPOSITORY 10
#define RDR_ERR_LOCKED 11
#define RDR_ERR_WRONG_PASSWORD 12
#define RDR_ERR_ALREADY_EXISTS 13
#define RDR_ERR_CORRUPT 20
#define RDR_ERR_STORAGE 21
#define RDR_ERR_NOT_FOUND 22
#define RDR_ERR_IO 23
#define RDR_ERR_DELETION_REFUSED 24
#define RDR_ERR_PANIC 99

/* An open repository. */
typedef struct RdrRepo RdrRepo;

/* Opens the repository at `location` (a path, local:PATH, or s3:/sftp:/...
   in rdr's syntax; schemes not compiled in fail with RDR_ERR_INVALID_ARGUMENT)
   with a password. */
RdrRepo *rdr_open(const char *location, const char *password);

/* Opens the repository with an age identity file (age-keygen format). */
RdrRepo *rdr_open_with_identity_file(const char *location, const char *identity_file);

/* Creates a repository protected by password; kdf_log_n is the scrypt work
 * factor (0 = the default, 15). Returns it open. */
RdrRepo *rdr_init(const char *location, const char *password, int kdf_log_n);

/* The repository config as JSON; free with rdr_string_free. */
char *rdr_config_json(const RdrRepo *repo);

/* Closes a handle (NULL is ignored). */
void rdr_close(RdrRepo *repo);

/* Frees a string returned by rdr (NULL is ignored). */
void rdr_string_free(char *s);

/* Code of the last error on this thread (RDR_OK after a success). */
int rdr_last_error_code(void);

/* Message of the last error on this thread; valid until the next rdr call. */
const char *rdr_last_error_message(void);

#ifdef __cplusplus
}
#endif

#endif /* RDR_H */
