#ifndef CAISSE_PLUGIN_TEST_H
#define CAISSE_PLUGIN_TEST_H
/* `caisse plugin test <dir>` (docs/plugins.md "Testing a plugin"): loads the
 * plugin of folder `dir` in its sandbox against an in-memory host (routes
 * answer with the commands they decided, recorded rather than run; caisse.kv
 * in memory; caisse.orders.find over orders the tests add; policy calls
 * through the built-in policies with the plugin's overrides), then runs the
 * tests of the files dir/tests/NAME.lua (name order) in a sandbox of their own, printing
 * TAP to `out`. Returns 0 if every test passed, 1 if one failed (or there is
 * none), 2 if the plugin or a test file does not load. No store, no server. */
#include <stdio.h>

int plugin_test_run(const char *dir, FILE *out);

#endif
