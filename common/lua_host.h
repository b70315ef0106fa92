/* lua_host.h: the llm720 Lua module.
 *
 * llm720.plan{...}, .fit{...}, .sim{...}, .train{...}, .prepare_data{...},
 * .plot{...} and .version() call the subcommands with the table turned into a
 * command line (key cache_bytes = 80e9 becomes --cache-bytes 80e9; true
 * becomes a bare flag; a list becomes comma-separated; the table's array part
 * becomes positional arguments, first) and return the subcommand's JSON result
 * as a table. Errors are Lua errors: "llm720.sim: message".
 */
#ifndef L720_LUA_HOST_H
#define L720_LUA_HOST_H

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>

/* Opens the module (the function for luaL_requiref). Pushes the table. */
int luaopen_llm720(lua_State *L);

/* Pushes a Lua value for j (objects and arrays become tables, null nil). */
void l720_lua_push_json(lua_State *L, const cJSON *j);

/* A new cJSON for the value at idx (tables with only 1..n keys become arrays). */
cJSON *l720_lua_to_json(lua_State *L, int idx);

/* Functions added to the module beyond the subcommands, ending with {0}:
 * defined in lua_extra.c. */
extern const luaL_Reg l720_lua_extra[];

#endif
