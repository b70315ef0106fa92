/* lua_extra.c: module functions beyond the subcommands, for the scripts in
 * scripts/: reading run logs, files and folders, wall time, and x-y plots.
 *
 *   llm720.read_runs(PATH | {PATH, ...}) -> {run, ...}
 *   llm720.plot_xy{out=BASE, series={...}, ...} -> {png=, svg=} | nil, why
 *   llm720.mkdir(PATH)            creates PATH and its parents
 *   llm720.exists(PATH)           true when PATH exists
 *   llm720.write_file(PATH, TEXT) writes atomically (temporary file + rename)
 *   llm720.list_dir(PATH)         sorted names in a folder (no . and ..)
 *   llm720.now()                  wall-clock seconds (monotonic, sub-second)
 *
 * Errors are Lua errors: "llm720.NAME: message".
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>

#include "fileio.h"
#include "gnuplot.h"
#include "json_io.h"
#include "lua_host.h"

#define MAX_DEPTH 8

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pushes a sorted Lua list of the names in dir (no dot entries), or raises. */
static void push_dir_names(lua_State *L, const char *fname, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        luaL_error(L, "llm720.%s: %s: cannot open the folder", fname, dir);
    lua_newtable(L);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            lua_pushstring(L, e->d_name);
            lua_rawseti(L, -2, ++n);
        }
    closedir(d);
    /* sort through a C array of pointers anchored in the list */
    const char **names = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *names, 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -2, i + 1);
        names[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    lua_newtable(L);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_replace(L, -3); /* sorted list replaces the unsorted one */
    lua_pop(L, 1);      /* the pointer array */
}

/* ---- read_runs ------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Appends to the list at index `files` every *.jsonl under path (sorted,
 * depth-first), or path itself when it is a file. */
static void collect_logs(lua_State *L, int files, const char *path, int depth)
{
    if (!is_dir(path)) {
        lua_pushstring(L, path);
        lua_rawseti(L, files, (lua_Integer)lua_rawlen(L, files) + 1);
        return;
    }
    if (depth > MAX_DEPTH)
        return;
    push_dir_names(L, "read_runs", path);
    int names = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, names);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, names, i);
        const char *name = lua_tostring(L, -1);
        lua_pushfstring(L, "%s/%s", path, name);
        const char *full = lua_tostring(L, -1);
        if (is_dir(full) || ends_with(name, ".jsonl"))
            collect_logs(L, files, full, depth + 1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* The record kind of one log line: its "type" field when present ("header",
 * "eval", or anything else), otherwise "eval" for lines with a validation loss,
 * "header" for the first line without a step, "record" for the rest. */
static const char *line_kind(const cJSON *obj, long nth)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (cJSON_IsString(t))
        return t->valuestring;
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj, "val_loss")))
        return "eval";
    if (nth == 0 && !cJSON_GetObjectItemCaseSensitive(obj, "step"))
        return "header";
    return "record";
}

typedef struct {
    lua_State *L;
    int run;   /* stack index of the run table */
    long nth;  /* lines seen */
} read_ctx;

static int on_line(const cJSON *obj, long line, void *vctx, l720_err *err)
{
    (void)line;
    (void)err;
    read_ctx *c = vctx;
    lua_State *L = c->L;
    const char *kind = line_kind(obj, c->nth++);
    l720_lua_push_json(L, obj);
    if (!strcmp(kind, "header") || !strcmp(kind, "config")) {
        lua_setfield(L, c->run, "header");
        return 0;
    }
    const char *list = !strcmp(kind, "eval") ? "evals" : "records";
    lua_getfield(L, c->run, list);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
    if (!strcmp(kind, "eval"))
        lua_setfield(L, c->run, "last");
    else if (!strcmp(kind, "done") || !strcmp(kind, "final") || !strcmp(kind, "end")) {
        lua_setfield(L, c->run, "final");
    } else
        lua_pop(L, 1);
    return 0;
}

/* Pushes the run table for one log file, or raises naming FILE:LINE. */
static void push_run(lua_State *L, const char *path)
{
    lua_newtable(L);
    int run = lua_gettop(L);
    lua_pushstring(L, path);
    lua_setfield(L, run, "path");
    const char *slash = strrchr(path, '/');
    if (slash)
        lua_pushlstring(L, path, (size_t)(slash - path));
    else
        lua_pushliteral(L, ".");
    lua_setfield(L, run, "dir");
    lua_newtable(L);
    lua_setfield(L, run, "evals");
    lua_newtable(L);
    lua_setfield(L, run, "records");
    read_ctx c = {L, run, 0};
    l720_err err;
    l720_err_clear(&err);
    if (l720_jsonl_each(path, on_line, &c, &err))
        luaL_error(L, "llm720.read_runs: %s", err.msg);
    lua_settop(L, run);
}

/* llm720.read_runs(PATH | {PATH, ...}): every JSON Lines run log found (a
 * folder is searched for *.jsonl files) as a list of
 * {path, dir, header, evals = {...}, last, records = {...}, final}. */
static int l_read_runs(lua_State *L)
{
    lua_newtable(L);
    int files = lua_gettop(L);
    if (lua_type(L, 1) == LUA_TSTRING) {
        if (!l720_exists(lua_tostring(L, 1)))
            return luaL_error(L, "llm720.read_runs: %s: no such file or folder",
                              lua_tostring(L, 1));
        collect_logs(L, files, lua_tostring(L, 1), 0);
    } else if (lua_istable(L, 1)) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            const char *p = lua_tostring(L, -1);
            if (!p)
                return luaL_error(L, "llm720.read_runs: path %d is not a string", (int)i);
            if (!l720_exists(p))
                return luaL_error(L, "llm720.read_runs: %s: no such file or folder", p);
            collect_logs(L, files, p, 0);
            lua_pop(L, 1);
        }
    } else {
        return luaL_error(L, "llm720.read_runs: expected a path or a list of paths");
    }
    lua_newtable(L);
    int runs = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, files);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, files, i);
        push_run(L, lua_tostring(L, -1));
        lua_rawseti(L, runs, i);
        lua_pop(L, 1);
    }
    return 1;
}

/* ---- files ----------------------------------------------------------------- */

static int l_mkdir(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    l720_err err;
    l720_err_clear(&err);
    if (l720_mkdir_p(p, &err))
        return luaL_error(L, "llm720.mkdir: %s", err.msg);
    return 0;
}

static int l_exists(lua_State *L)
{
    lua_pushboolean(L, l720_exists(luaL_checkstring(L, 1)));
    return 1;
}

static int l_write_file(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    l720_err err;
    l720_err_clear(&err);
    if (l720_write_file_atomic(p, s, n, &err))
        return luaL_error(L, "llm720.write_file: %s", err.msg);
    return 0;
}

static int l_list_dir(lua_State *L)
{
    push_dir_names(L, "list_dir", luaL_checkstring(L, 1));
    return 1;
}

static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    return 1;
}

/* ---- plot_xy ---------------------------------------------------------------- */

/* Appends s to the list of text pieces at index parts. */
static void add(lua_State *L, int parts, const char *s)
{
    lua_pushstring(L, s);
    lua_rawseti(L, parts, (lua_Integer)lua_rawlen(L, parts) + 1);
}

/* Appends s as a gnuplot double-quoted string. */
static void add_quoted(lua_State *L, int parts, const char *s)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            luaL_addchar(&b, '\\');
        luaL_addchar(&b, *s == '\n' ? ' ' : *s);
    }
    luaL_addchar(&b, '"');
    luaL_pushresult(&b);
    lua_rawseti(L, parts, (lua_Integer)lua_rawlen(L, parts) + 1);
}

static const char *opt_string(lua_State *L, int t, const char *key, const char *def)
{
    lua_getfield(L, t, key);
    const char *s = lua_isnil(L, -1) ? def : lua_tostring(L, -1);
    if (!s)
        luaL_error(L, "llm720.plot_xy: '%s' must be a string", key);
    lua_pop(L, 1); /* strings from the options table stay anchored there */
    return s;
}

static int opt_bool(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Reads the number list field `key` of the table on top; returns its length. */
static lua_Integer series_list(lua_State *L, int s, const char *key, int i)
{
    lua_getfield(L, s, key);
    if (!lua_istable(L, -1))
        luaL_error(L, "llm720.plot_xy: series %d: '%s' must be a list of numbers", i, key);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    lua_pop(L, 1);
    return n;
}

/* llm720.plot_xy{out = BASE, title =, xlabel =, ylabel =, logx =, logy =,
 *   series = {{name =, x = {...}, y = {...}, style = "linespoints"}, ...}}
 * Writes BASE.png and BASE.svg; returns {png =, svg =}, or nil and the
 * reason when no gnuplot is installed. */
static int l_plot_xy(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *out = opt_string(L, 1, "out", NULL);
    if (!out)
        return luaL_error(L, "llm720.plot_xy: 'out' (the file name without extension) is required");
    lua_getfield(L, 1, "series");
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) == 0)
        return luaL_error(L, "llm720.plot_xy: 'series' must be a non-empty list");
    int series = lua_gettop(L);
    int ns = (int)lua_rawlen(L, series);
    if (!l720_gnuplot_available()) {
        lua_pushnil(L);
        lua_pushliteral(L, "gnuplot not found");
        return 2;
    }
    lua_newtable(L); /* the script, as a list of pieces */
    int parts = lua_gettop(L);
    add(L, parts, "set grid\nset key top right\nset title ");
    add_quoted(L, parts, opt_string(L, 1, "title", ""));
    add(L, parts, "\nset xlabel ");
    add_quoted(L, parts, opt_string(L, 1, "xlabel", "x"));
    add(L, parts, "\nset ylabel ");
    add_quoted(L, parts, opt_string(L, 1, "ylabel", "y"));
    add(L, parts, "\n");
    if (opt_bool(L, 1, "logx"))
        add(L, parts, "set logscale x\n");
    if (opt_bool(L, 1, "logy"))
        add(L, parts, "set logscale y\n");
    char num[64];
    for (int i = 1; i <= ns; i++) {
        lua_rawgeti(L, series, i);
        int s = lua_gettop(L);
        if (!lua_istable(L, s))
            return luaL_error(L, "llm720.plot_xy: series %d must be a table", i);
        lua_Integer n = series_list(L, s, "x", i);
        if (series_list(L, s, "y", i) != n)
            return luaL_error(L, "llm720.plot_xy: series %d: x and y differ in length", i);
        snprintf(num, sizeof num, "$S%d << EOD\n", i);
        add(L, parts, num);
        for (lua_Integer k = 1; k <= n; k++) {
            lua_getfield(L, s, "x");
            lua_rawgeti(L, -1, k);
            double x = lua_tonumber(L, -1);
            lua_getfield(L, s, "y");
            lua_rawgeti(L, -1, k);
            double y = lua_tonumber(L, -1);
            lua_pop(L, 4);
            if (isfinite(x) && isfinite(y)) {
                snprintf(num, sizeof num, "%.10g %.10g\n", x, y);
                add(L, parts, num);
            }
        }
        add(L, parts, "EOD\n");
        lua_pop(L, 1);
    }
    add(L, parts, "plot ");
    for (int i = 1; i <= ns; i++) {
        lua_rawgeti(L, series, i);
        int s = lua_gettop(L);
        snprintf(num, sizeof num, "%s$S%d with ", i > 1 ? ", " : "", i);
        add(L, parts, num);
        add(L, parts, opt_string(L, s, "style", "linespoints"));
        add(L, parts, " title ");
        snprintf(num, sizeof num, "series %d", i);
        add_quoted(L, parts, opt_string(L, s, "name", num));
        lua_pop(L, 1);
    }
    add(L, parts, "\n");
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "concat");
    lua_pushvalue(L, parts);
    lua_call(L, 1, 1);
    l720_err err;
    l720_err_clear(&err);
    if (l720_gnuplot_render(lua_tostring(L, -1), out, 800, 500, &err))
        return luaL_error(L, "llm720.plot_xy: %s", err.msg);
    lua_newtable(L);
    lua_pushfstring(L, "%s.png", out);
    lua_setfield(L, -2, "png");
    lua_pushfstring(L, "%s.svg", out);
    lua_setfield(L, -2, "svg");
    return 1;
}

const luaL_Reg l720_lua_extra[] = {
    {"read_runs", l_read_runs},   {"plot_xy", l_plot_xy}, {"mkdir", l_mkdir},
    {"exists", l_exists},         {"write_file", l_write_file},
    {"list_dir", l_list_dir},     {"now", l_now},         {NULL, NULL},
};
