/* paths.h: where the toolkit's data (data/, scripts/) lives.
 *
 * Looked up in this order: $LLM720_DATA (a data/ folder); the source tree when
 * the binary runs uninstalled from its build tree; the installed
 * $(pkgdatadir). */
#ifndef L720_PATHS_H
#define L720_PATHS_H

#include <stddef.h>

#include "err.h"

/* The data folder (holding hardware/, laws/, ...). Never NULL. */
const char *l720_data_dir(void);

/* The scripts folder (Lua). Never NULL. */
const char *l720_scripts_dir(void);

/* Joins dir + "/" + rel into buf. Returns buf, or NULL if it does not fit. */
char *l720_path_join(char *buf, size_t n, const char *dir, const char *rel);

#endif
