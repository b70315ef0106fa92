/* test_csv.c: the CSV reader on edge cases: quotes, CRLF, missing cells, NaN,
 * huge numbers, malformed input with the file and line named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "tap.h"

static l720_csv *parse(const char *s, l720_err *err)
{
    l720_err_clear(err);
    return l720_csv_parse(s, strlen(s), "t.csv", err);
}

static void test_basic(void)
{
    l720_err err;
    l720_csv *c = parse("a,b,c\n1,2,3\n4,5,6\n", &err);
    ok(c && c->ncols == 3 && c->nrows == 2, "basic: 3 columns, 2 rows");
    ok(c && !strcmp(l720_csv_cell(c, 1, 2), "6"), "basic: cell (1,2) is 6");
    ok(c && c->line[0] == 2 && c->line[1] == 3, "basic: rows remember their lines");
    ok(c && l720_csv_column(c, "b") == 1 && l720_csv_column(c, "z") == -1, "column lookup");
    l720_csv_free(c);
}

static void test_quotes(void)
{
    l720_err err;
    l720_csv *c = parse("name,text\n\"x, y\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\nlast,\"\"\n",
                        &err);
    ok(c && c->nrows == 3, "quotes: 3 rows");
    ok(c && !strcmp(l720_csv_cell(c, 0, 0), "x, y"), "quotes: comma inside quotes");
    ok(c && !strcmp(l720_csv_cell(c, 0, 1), "say \"hi\""), "quotes: doubled quotes");
    ok(c && !strcmp(l720_csv_cell(c, 1, 0), "multi\nline"), "quotes: newline inside quotes");
    ok(c && c->line[2] == 5, "quotes: line numbers count embedded newlines");
    ok(c && !strcmp(l720_csv_cell(c, 2, 1), ""), "quotes: empty quoted cell");
    l720_csv_free(c);

    c = parse("a,b\n\"open,1\n", &err);
    ok(!c && err.code == 2 && strstr(err.msg, "t.csv:2:") && strstr(err.msg, "unterminated"),
       "unterminated quote names the line: %s", err.msg);
    c = parse("a,b\nx\"y,1\n", &err);
    ok(!c && err.code == 2 && strstr(err.msg, "t.csv:2:"), "stray quote is an error: %s", err.msg);
    c = parse("a,b\n\"x\"y,1\n", &err);
    ok(!c && err.code == 2 && strstr(err.msg, "after a closing quote"),
       "text after a closing quote is an error: %s", err.msg);
}

static void test_crlf_and_blanks(void)
{
    l720_err err;
    l720_csv *c = parse("a,b\r\n1,2\r\n\r\n3,4\r\n", &err);
    ok(c && c->nrows == 2, "CRLF: 2 rows, blank line skipped");
    ok(c && !strcmp(l720_csv_cell(c, 0, 1), "2") && !strcmp(l720_csv_cell(c, 1, 1), "4"),
       "CRLF: no carriage return left in cells");
    ok(c && c->line[1] == 4, "CRLF: line numbers");
    l720_csv_free(c);
    c = parse("\xEF\xBB\xBFx,y\n1,2", &err);
    ok(c && !strcmp(c->header[0], "x") && c->nrows == 1, "BOM skipped, no final newline");
    l720_csv_free(c);
}

static void test_missing_and_extra(void)
{
    l720_err err;
    l720_csv *c = parse("a,b,c\n1,2\n1,,3\n", &err);
    ok(c && l720_csv_cell(c, 0, 2) == NULL, "short row: missing cell is NULL");
    double v = 0;
    ok(c && l720_csv_number(c, 0, 2, 0, &v, &err) == 2 && strstr(err.msg, "t.csv:2:") &&
           strstr(err.msg, "'c'") && strstr(err.msg, "missing"),
       "missing cell error names file, line, field: %s", err.msg);
    ok(c && l720_csv_number(c, 1, 1, 0, &v, &err) == 2 && strstr(err.msg, "t.csv:3:") &&
           strstr(err.msg, "empty"),
       "empty cell error: %s", err.msg);
    ok(c && l720_csv_number(c, 1, 1, L720_CSV_EMPTY_IS_NAN, &v, &err) == 0 && isnan(v),
       "empty cell reads as NaN when asked");
    l720_csv_free(c);
    c = parse("a,b\n1,2,3\n", &err);
    ok(!c && err.code == 2 && strstr(err.msg, "t.csv:2:") && strstr(err.msg, "3 cells"),
       "too many cells is an error: %s", err.msg);
    c = parse("", &err);
    ok(!c && err.code == 2 && strstr(err.msg, "no header"), "empty file: %s", err.msg);
    c = parse("a,a\n1,2\n", &err);
    ok(!c && strstr(err.msg, "duplicate"), "duplicate header: %s", err.msg);
    c = parse("a,,c\n1,2,3\n", &err);
    ok(!c && strstr(err.msg, "no name"), "empty header name: %s", err.msg);
}

static void test_numbers(void)
{
    double v;
    ok(l720_parse_number("1.5e3", &v) == 0 && v == 1500, "1.5e3");
    ok(l720_parse_number("  -2 ", &v) == 0 && v == -2, "blanks around a number");
    ok(l720_parse_number("NaN", &v) == 0 && isnan(v), "NaN parses as NaN");
    ok(l720_parse_number("inf", &v) == 0 && isinf(v), "inf parses");
    ok(l720_parse_number("1e308", &v) == 0 && v == 1e308, "1e308 in range");
    ok(l720_parse_number("1e400", &v) == -2, "1e400 is out of range");
    ok(l720_parse_number("-1e400", &v) == -2, "-1e400 is out of range");
    ok(l720_parse_number("1e-400", &v) == 0 && v == 0, "underflow reads as zero");
    ok(l720_parse_number("12abc", &v) == -1, "trailing garbage rejected");
    ok(l720_parse_number("", &v) == -1 && l720_parse_number("   ", &v) == -1, "empty rejected");
    ok(l720_parse_number("0x10", &v) == -1, "hex rejected");
    ok(l720_parse_number("1,5", &v) == -1, "decimal comma rejected");
    ok(l720_parse_number("6795600349.289497", &v) == 0 && fabs(v - 6795600349.289497) < 1e-5,
       "long decimals");

    l720_err err;
    l720_csv *c = parse("x,y\n1e999,abc\n", &err);
    ok(c && l720_csv_number(c, 0, 0, 0, &v, &err) == 2 && strstr(err.msg, "out of the range"),
       "huge number error: %s", err.msg);
    ok(c && l720_csv_number(c, 0, 1, 0, &v, &err) == 2 && strstr(err.msg, "'abc' is not a number") &&
           strstr(err.msg, "field 'y'"),
       "non-number error names the field: %s", err.msg);
    l720_csv_free(c);
}

static void test_map_where(void)
{
    l720_err err;
    l720_csv *c = parse("Model Size,Training FLOP,loss,k,router\n1,2,3,1,A\n4,5,6,2,B\n7,8,9,1,B\n",
                        &err);
    const char *roles[] = {"N", "D", "C", "L", NULL};
    long cols[4];
    ok(l720_csv_map(c, "N=Model Size, C=Training FLOP,L=loss", roles, cols, &err) == 0 &&
           cols[0] == 0 && cols[1] == -1 && cols[2] == 1 && cols[3] == 2,
       "column mapping by name");
    ok(l720_csv_map(c, "N=Model Size,Q=loss", roles, cols, &err) == 2 &&
           strstr(err.msg, "unknown role 'Q'"),
       "unknown role: %s", err.msg);
    ok(l720_csv_map(c, "N=size", roles, cols, &err) == 2 && strstr(err.msg, "no column 'size'"),
       "unknown column lists the columns: %s", err.msg);
    ok(l720_csv_map(c, "N", roles, cols, &err) == 2, "malformed spec: %s", err.msg);
    unsigned char keep[3];
    ok(l720_csv_where(c, "k=1", keep, &err) == 0 && keep[0] && !keep[1] && keep[2], "where k=1");
    ok(l720_csv_where(c, "k=1.0,router=B", keep, &err) == 0 && !keep[0] && !keep[1] && keep[2],
       "where with a number and a text condition");
    ok(l720_csv_where(c, "nope=1", keep, &err) == 2 && strstr(err.msg, "no column 'nope'"),
       "where on an unknown column: %s", err.msg);
    l720_csv_free(c);
}

static void test_real_file(void)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/data/runs/epoch_chinchilla_svg_extracted_data.csv",
             top ? top : ".");
    l720_err err;
    l720_csv *c = l720_csv_read(path, &err);
    if (!c) {
        ok(1, "# SKIP real file not present (%s)", err.msg);
        return;
    }
    ok(c->nrows == 245 && l720_csv_column(c, "Model Size") == 3, "Epoch extraction: 245 rows");
    double v;
    ok(l720_csv_number(c, 0, 3, 0, &v, &err) == 0 && v > 1e9, "first model size parses");
    l720_csv_free(c);
    ok(l720_csv_read("/nonexistent/x.csv", &err) == NULL && err.code == 2 &&
           strstr(err.msg, "/nonexistent/x.csv"),
       "unreadable file named: %s", err.msg);
}

static void test_list_next(void)
{
    const char *items[4];
    size_t lens[4], n, k = 0;
    for (const char *p = "ab,,c", *s; k < 4 && (s = l720_list_next(&p, &n)); k++)
        items[k] = s, lens[k] = n;
    ok(k == 3 && lens[0] == 2 && !strncmp(items[0], "ab", 2) && lens[1] == 0 && lens[2] == 1 &&
           items[2][0] == 'c',
       "list walk: items in turn, the empty one included");
    const char *p = "";
    ok(l720_list_next(&p, &n) != NULL && n == 0 && p == NULL && l720_list_next(&p, &n) == NULL,
       "list walk: an empty list is one empty item");
}

int main(void)
{
    test_basic();
    test_quotes();
    test_crlf_and_blanks();
    test_missing_and_extra();
    test_numbers();
    test_map_where();
    test_real_file();
    test_list_next();
    return tap_done();
}
