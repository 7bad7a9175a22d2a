/*
 * hf_datadir — where the running hemoflow finds its read-only data
 * (schemas/avro, schemas/sql): the installed share/hemoflow folder beside an
 * installed binary, else the source checkout a build-tree binary came from.
 */
#ifndef HF_DATADIR_H
#define HF_DATADIR_H

/* ==== lookup ==== */

/* <dir of the executable>/HF_DATADIR_FROM_BIN (../share/hemoflow) when that
 * folder holds schemas/, else HF_SOURCE_DIR (the checkout at build time).
 * The install prefix is not compiled in, so a prefix chosen at
 * `cmake --install --prefix` time, or one copied elsewhere, still works.
 * Returns a string the caller frees with hf_free(); never NULL. */
char *hf_datadir_find(void);

#endif /* HF_DATADIR_H */
