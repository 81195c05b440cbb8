/* Case folding for name search. */
#include "core/text.h"
#include "tests/unit/tap.h"

int main(void)
{
    char out[64];
    utf8_fold("HÉLÈNE Éluard ÇA ŒUVRE Ÿ Łódź", out, sizeof out);
    EQ_STR(out, "hélène éluard ça œuvre ÿ łódź", "Latin-1 and Extended-A fold");
    utf8_fold("日本 ß ×", out, sizeof out);
    EQ_STR(out, "日本 ß ×", "others unchanged, × is not a letter");
    OK(utf8_contains_folded("Hélène", "LÈN"), "LÈN in Hélène");
    OK(utf8_contains_folded("Éluard", "élu"), "élu in Éluard");
    OK(!utf8_contains_folded("Hélène", "helene"), "accents still count");
    utf8_fold("ÉÉÉÉ", out, 5);
    EQ_STR(out, "éé", "truncates on a character boundary");
    return tap_done();
}
