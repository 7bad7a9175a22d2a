/*
 * cmd_schemas — `hemoflow schemas list` (the catalogue: event type, version,
 * fingerprint, newest marker, file) and `hemoflow schemas check FILE.avsc`
 * (Avro resolution both ways against every older version).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hf_catalog.h"
#include "hf_mem.h"

static void hf__schemas_help(FILE *out)
{
    fprintf(out, "Usage: hemoflow schemas [--dir DIR] list\n"
                 "       hemoflow schemas [--dir DIR] check FILE.avsc\n"
                 "\n"
                 "The catalogue is every <EventType>.v<N>.avsc in the schema folder (config key\n"
                 "schemas.dir); loading it validates every file (see docs/wire-format.md).\n"
                 "\n"
                 "  list    one line per schema version: event type, version, fingerprint,\n"
                 "          '*' for the newest version (the consumers' reader schema), file.\n"
                 "          The fingerprint is the CRC-64-AVRO of the Parsing Canonical Form\n"
                 "          printed as a 64-bit number in hex; on the wire the same number is\n"
                 "          stored little-endian, so the frame bytes appear in reverse order.\n"
                 "  check   FILE must be named <EventType>.v<N>.avsc. Checks that FILE can read\n"
                 "          data of every older version of its event type (backward) and that\n"
                 "          every older version can read FILE's data (forward), and says why not.\n"
                 "\n"
                 "  -d, --dir DIR   schema folder (default: config schemas.dir)\n"
                 "  -h, --help      this help\n"
                 "\n"
                 "Exit status: 0 ok/compatible, 1 error (unreadable or invalid schema, bad\n"
                 "catalogue), 2 usage, 3 incompatible.\n");
}

static void hf__list_help(FILE *out)
{
    fprintf(out, "Usage: hemoflow schemas [--dir DIR] list\n"
                 "\n"
                 "Prints EVENT_TYPE VERSION FINGERPRINT NEWEST FILE, one schema version per\n"
                 "line, ordered by event type and version. FINGERPRINT is the uint64\n"
                 "CRC-64-AVRO in hex (%%016llx), not the little-endian wire bytes.\n");
}

static void hf__check_help(FILE *out)
{
    fprintf(out, "Usage: hemoflow schemas [--dir DIR] check FILE.avsc\n"
                 "\n"
                 "Exit status: 0 compatible, 3 incompatible, 1 error, 2 usage.\n");
}

static int hf__schemas_list(const hf_catalog_t *cat)
{
    printf("%-26s %-7s %-16s %-6s %s\n", "EVENT_TYPE", "VERSION", "FINGERPRINT", "NEWEST", "FILE");
    for (size_t i = 0; i < hf_catalog_count(cat); i++) {
        hf_catalog_info_t info;
        if (hf_catalog_entry(cat, i, &info) != HF_OK)
            break;
        printf("%-26s %-7d %016llx %-6s %s\n", info.event_type->name, info.version,
               (unsigned long long)info.fingerprint, info.is_newest ? "*" : "", info.path);
    }
    return HF_EXIT_OK;
}

static int hf__schemas_check(const hf_catalog_t *cat, const char *file)
{
    hf_buf_t report = {0};
    hf_err_t err = hf_catalog_check(cat, file, &report);
    if (report.len)
        fwrite(report.data, 1, report.len, err == HF_OK || err == HF_ERR_SCHEMA ? stdout : stderr);
    hf_buf_free(&report);
    if (err == HF_OK)
        return HF_EXIT_OK;
    return err == HF_ERR_SCHEMA ? HF_EXIT_REJECTS : HF_EXIT_FAIL;
}

int hf_cmd_schemas(hf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = hf_config_str(cli->cfg, "schemas.dir");
    int c;
    /* '+': options after the subcommand belong to it */
    while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'h':
            hf__schemas_help(stdout);
            return HF_EXIT_OK;
        default:
            hf__schemas_help(stderr);
            return HF_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return hf_cli_usage_error("schemas", "missing subcommand: list or check");
    const char *sub = argv[optind++];
    bool is_list = strcmp(sub, "list") == 0, is_check = strcmp(sub, "check") == 0;
    if (!is_list && !is_check)
        return hf_cli_usage_error("schemas", "unknown subcommand '%s' (list or check)", sub);
    /* subcommand options: --help, and --dir accepted here too */
    const char *file = NULL;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            (is_list ? hf__list_help : hf__check_help)(stdout);
            return HF_EXIT_OK;
        } else if ((strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--dir") == 0) && i + 1 < argc) {
            dir = argv[++i];
        } else if (strncmp(argv[i], "--dir=", 6) == 0) {
            dir = argv[i] + 6;
        } else if (is_check && !file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            return hf_cli_usage_error("schemas", "unexpected argument '%s'", argv[i]);
        }
    }
    if (is_check && !file)
        return hf_cli_usage_error("schemas", "check needs a FILE.avsc");

    char err[2048];
    hf_catalog_t *cat = hf_catalog_load(dir, err, sizeof(err));
    if (!cat) {
        fprintf(stderr, "hemoflow schemas: %s\n", err);
        return HF_EXIT_FAIL;
    }
    int rc = is_list ? hf__schemas_list(cat) : hf__schemas_check(cat, file);
    hf_catalog_destroy(cat);
    return rc;
}
