/* `caisse plugin test <dir>`: a plugin's own Lua tests, without a server
 * (lua/plugin_test.h, docs/plugins.md "Testing a plugin"). */
#include <stdio.h>
#include <string.h>
#include "core/cli.h"
#include "lua/plugin_test.h"

int cli_plugin(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[0], "test") != 0) {
        fprintf(stderr, "usage: caisse plugin test DIR\n"
                        "  runs DIR/tests/NAME.lua files (caisse.test(name, function(t) ... end)) against the plugin of DIR\n"
                        "  in its sandbox with an in-memory host; prints TAP; exit 0 if every test passed, 1 if one\n"
                        "  failed, 2 if the plugin or a test file does not load\n");
        return 2;
    }
    int status = plugin_test_run(argv[1], stdout);
    fflush(stdout);
    return status;
}
