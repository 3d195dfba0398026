/* parse.c — lexer and recursive-descent parser of lme4 formulas into a syntax tree.
 *
 * Operator precedence is R's (lowest first): '~'; '|' '||'; binary '+' '-'; '*' '/';
 * ':'; unary '-' '+'; '^' (right associative).  So `(1 + x | g)` is `((1 + x) | g)` and
 * `-1 + x` is `(-1) + x`.  Semantics (what a '*' or a '|' means) live in terms.c. */
#include "formula_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    T_END, T_NAME, T_QNAME, T_NUM, T_DOT, T_TILDE, T_PLUS, T_MINUS, T_STAR, T_SLASH,
    T_COLON, T_CARET, T_LPAREN, T_RPAREN, T_BAR, T_DBAR, T_COMMA
} tok_type;

typedef struct {
    tok_type type;
    int pos, end;   /* [pos, end) in the text; for T_QNAME including the backquotes */
} token;

typedef struct {
    const char *text;
    token *tok;
    int ntok, i;     /* tokens, cursor */
    int depth;
    evm__ast *ast;
    evm_ctx *c;
    int status;      /* the error recorded, EVM_ERR_FORMULA unless out of memory */
} parser;

static int fail_at(parser *P, int pos, const char *what, const char *arg);
static int fail_nomem(parser *P);

int evm__formula_fail(evm_ctx *c, int status, const char *text, int pos, const char *fmt,
                      ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t prefix = strlen("--formula: ") + strlen(what) + 2;
    long caret = (long)prefix + pos;
    /* The context keeps 1023 bytes of message: no caret beyond what is kept. */
    if (caret >= 1023) caret = -1;
    return evm__fail_caret(c, status, (int)caret, "--formula: %s: %s", what, text);
}

/* ------------------------------------------------------------------ lexer */
static int is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int is_alpha(unsigned char ch)
{
    /* Bytes >= 0x80 are taken as letters so UTF-8 names work, as in R's UTF-8 locales. */
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
}

static int is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

static int is_name_char(unsigned char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '.' || ch == '_';
}

/* A number as R reads one: digits, '.', exponent. Returns the end offset. */
static int lex_number(const char *s, int i)
{
    while (is_digit((unsigned char)s[i])) i++;
    if (s[i] == '.') {
        i++;
        while (is_digit((unsigned char)s[i])) i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        int j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        if (is_digit((unsigned char)s[j])) {
            while (is_digit((unsigned char)s[j])) j++;
            i = j;
        }
    }
    if (s[i] == 'L') i++;   /* R's integer suffix: 1L */
    return i;
}

static int lex_one(const char *s, int i, token *t, evm_ctx *c)
{
    unsigned char ch = (unsigned char)s[i];
    t->pos = i;
    static const char singles[] = "~+-*/:^(),";
    static const tok_type stype[] = {T_TILDE, T_PLUS, T_MINUS, T_STAR, T_SLASH,
                                     T_COLON, T_CARET, T_LPAREN, T_RPAREN, T_COMMA};
    const char *p = ch ? strchr(singles, ch) : NULL;
    if (p) {
        t->type = stype[p - singles];
        t->end = i + 1;
    } else if (ch == '|') {
        t->type = s[i + 1] == '|' ? T_DBAR : T_BAR;
        t->end = i + (t->type == T_DBAR ? 2 : 1);
    } else if (ch == '`') {
        const char *q = strchr(s + i + 1, '`');
        if (!q) return evm__formula_fail(c, EVM_ERR_FORMULA, s, i, "unterminated '`'");
        if (q == s + i + 1)
            return evm__formula_fail(c, EVM_ERR_FORMULA, s, i, "empty name '``'");
        t->type = T_QNAME;
        t->end = (int)(q - s) + 1;
    } else if (is_digit(ch) || (ch == '.' && is_digit((unsigned char)s[i + 1]))) {
        t->type = T_NUM;
        t->end = lex_number(s, i);
    } else if (is_alpha(ch) || ch == '.') {
        int j = i + 1;
        while (is_name_char((unsigned char)s[j])) j++;
        t->type = (ch == '.' && j == i + 1) ? T_DOT : T_NAME;
        t->end = j;
    } else {
        return evm__formula_fail(c, EVM_ERR_FORMULA, s, i, "unexpected character '%c'",
                                 ch >= 0x20 && ch < 0x7f ? ch : '?');
    }
    return EVM_OK;
}

static int lex(const char *s, token **out, int *ntok, evm_ctx *c)
{
    size_t len = strlen(s);
    if (len > 65536)
        return evm__fail(c, EVM_ERR_FORMULA, "--formula: formula longer than 65536 bytes");
    token *tok = evm__malloc(len + 1, sizeof *tok);
    if (!tok) return evm__fail(c, EVM_ERR_NOMEM, "out of memory parsing the formula");
    int n = 0, i = 0;
    for (;;) {
        while (is_space((unsigned char)s[i])) i++;
        if (!s[i]) break;
        int st = lex_one(s, i, &tok[n], c);
        if (st < 0) {
            free(tok);
            return st;
        }
        i = tok[n++].end;
        if (n > 10000) {
            free(tok);
            return evm__formula_fail(c, EVM_ERR_FORMULA, s, i,
                                     "formula longer than 10000 symbols");
        }
    }
    tok[n].type = T_END;
    tok[n].pos = tok[n].end = (int)len;
    *out = tok;
    *ntok = n;
    return EVM_OK;
}

/* ------------------------------------------------------------------ tree */
static int new_node(parser *P, evm__nkind kind, int pos, int end, int a, int b)
{
    evm__ast *ast = P->ast;
    if (ast->nnodes == ast->cap) {
        int cap = ast->cap ? 2 * ast->cap : 32;
        evm__node *nn = realloc(ast->node, (size_t)cap * sizeof *nn);
        if (!nn) return fail_nomem(P);
        ast->node = nn;
        ast->cap = cap;
    }
    evm__node *nd = &ast->node[ast->nnodes];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->pos = pos;
    nd->end = end;
    nd->a = a;
    nd->b = b;
    return ast->nnodes++;
}

/* A node for a name token; the name is copied without backquotes. */
static int name_node(parser *P, const token *t)
{
    int q = t->type == T_QNAME;
    int k = new_node(P, EVM__N_NAME, t->pos, t->end, -1, -1);
    if (k < 0) return -1;
    size_t len = (size_t)(t->end - t->pos - 2 * q);
    char *name = malloc(len + 1);
    if (!name) return fail_nomem(P);
    memcpy(name, P->text + t->pos + q, len);
    name[len] = '\0';
    P->ast->node[k].name = name;
    return k;
}

void evm__ast_free(evm__ast *ast)
{
    if (!ast) return;
    for (int i = 0; i < ast->nnodes; i++) free(ast->node[i].name);
    free(ast->node);
    memset(ast, 0, sizeof *ast);
}

/* ------------------------------------------------------------------ parser */
static const token *peek(const parser *P) { return &P->tok[P->i]; }

static const char *tok_text(tok_type t)
{
    switch (t) {
    case T_TILDE: return "~";
    case T_PLUS: return "+";
    case T_MINUS: return "-";
    case T_STAR: return "*";
    case T_SLASH: return "/";
    case T_COLON: return ":";
    case T_CARET: return "^";
    case T_LPAREN: return "(";
    case T_RPAREN: return ")";
    case T_BAR: return "|";
    case T_DBAR: return "||";
    case T_COMMA: return ",";
    case T_DOT: return ".";
    default: return "?";
    }
}

static int fail_at(parser *P, int pos, const char *what, const char *arg)
{
    P->status = evm__formula_fail(P->c, EVM_ERR_FORMULA, P->text, pos, what, arg);
    return -1;
}

static int fail_nomem(parser *P)
{
    P->status = evm__fail(P->c, EVM_ERR_NOMEM, "out of memory parsing the formula");
    return -1;
}

/* A token that cannot follow a complete term (e.g. `x z`, `x (`, `x)` at top level). */
static int fail_unexpected(parser *P)
{
    const token *t = peek(P);
    if (t->type == T_RPAREN) return fail_at(P, t->pos, "unmatched '%s'", ")");
    if (t->type == T_NAME || t->type == T_QNAME || t->type == T_NUM ||
        t->type == T_LPAREN || t->type == T_DOT) {
        char tmp[64];
        int len = t->end - t->pos < 40 ? t->end - t->pos : 40;
        snprintf(tmp, sizeof tmp, "%.*s", len, P->text + t->pos);
        return fail_at(P, t->pos, "missing operator before '%s'", tmp);
    }
    return fail_at(P, t->pos, "unexpected '%s'", tok_text(t->type));
}

static int parse_or(parser *P);
static int parse_unary(parser *P);

static int parse_call(parser *P)
{
    const token *fn = peek(P);
    int len = fn->end - fn->pos;
    if (len != 6 || memcmp(P->text + fn->pos, "factor", 6) != 0) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", len < 40 ? len : 40, P->text + fn->pos);
        return fail_at(P, fn->pos, "unsupported function '%s'", tmp);
    }
    P->i += 2;   /* name and '(' */
    const token *arg = peek(P);
    if ((arg->type != T_NAME && arg->type != T_QNAME) || P->tok[P->i + 1].type != T_RPAREN)
        return fail_at(P, arg->pos, "%s", "factor() takes one column name");
    int k = name_node(P, arg);
    if (k < 0) return -1;
    int call = new_node(P, EVM__N_CALL, fn->pos, P->tok[P->i + 1].end, k, -1);
    if (call < 0) return -1;
    P->ast->node[call].name = evm__strdup("factor");
    if (!P->ast->node[call].name) return fail_nomem(P);
    P->i += 2;   /* argument and ')' */
    return call;
}

/* Called where a term must start but none does. */
static int fail_missing_term(parser *P)
{
    const token *t = peek(P);
    const token *prev = P->i > 0 ? &P->tok[P->i - 1] : NULL;
    if (t->type == T_END || t->type == T_RPAREN) {
        if (prev && prev->type == T_LPAREN)
            return t->type == T_END ? fail_at(P, prev->pos, "unmatched '%s'", "(")
                                    : fail_at(P, prev->pos, "%s", "empty parentheses");
        if (prev && prev->type == T_TILDE)
            return fail_at(P, prev->pos, "%s", "missing terms after '~'");
        if (prev)
            return t->type == T_END
                       ? fail_at(P, prev->pos, "trailing operator '%s'", tok_text(prev->type))
                       : fail_at(P, prev->pos, "nothing after '%s'", tok_text(prev->type));
        return fail_at(P, t->pos, "%s", "empty formula");
    }
    if (t->type == T_BAR || t->type == T_DBAR)
        return fail_at(P, t->pos, "random term without terms before '%s'", tok_text(t->type));
    return fail_at(P, t->pos, "unexpected '%s'", tok_text(t->type));
}

static int parse_primary(parser *P)
{
    const token *t = peek(P);
    switch (t->type) {
    case T_NAME:
        if (P->tok[P->i + 1].type == T_LPAREN) return parse_call(P);
        /* fall through */
    case T_QNAME: {
        int k = name_node(P, t);
        if (k >= 0) P->i++;
        return k;
    }
    case T_NUM: {
        int k = new_node(P, EVM__N_NUM, t->pos, t->end, -1, -1);
        if (k < 0) return -1;
        char tmp[64];
        int len = t->end - t->pos < 63 ? t->end - t->pos : 63;
        memcpy(tmp, P->text + t->pos, (size_t)len);
        tmp[len] = '\0';
        P->ast->node[k].num = strtod(tmp, NULL);
        P->i++;
        return k;
    }
    case T_DOT:
        return fail_at(P, t->pos, "%s", "'.' (all other columns) is not supported");
    case T_LPAREN: {
        int open = P->i;
        P->i++;
        int e = parse_or(P);
        if (e < 0) return -1;
        const token *close = peek(P);
        if (close->type == T_END) return fail_at(P, P->tok[open].pos, "unmatched '%s'", "(");
        if (close->type != T_RPAREN) return fail_unexpected(P);
        P->i++;
        return new_node(P, EVM__N_PAREN, P->tok[open].pos, close->end, e, -1);
    }
    default:
        return fail_missing_term(P);
    }
}

static int enter(parser *P)
{
    if (++P->depth > EVM__MAX_DEPTH)
        return fail_at(P, peek(P)->pos, "formula nested more than %s levels deep", "200");
    return 0;
}

static int parse_pow(parser *P)
{
    int l = parse_primary(P);
    if (l < 0 || peek(P)->type != T_CARET) return l;
    int pos = peek(P)->pos;
    P->i++;
    int r = parse_unary(P);
    if (r < 0) return -1;
    int k = new_node(P, EVM__N_BIN, pos, P->ast->node[r].end, l, r);
    if (k >= 0) P->ast->node[k].op = '^';
    return k;
}

static int parse_unary(parser *P)
{
    if (enter(P) < 0) return -1;
    int k;
    const token *t = peek(P);
    if (t->type == T_MINUS || t->type == T_PLUS) {
        int pos = t->pos;
        evm__nkind kind = t->type == T_MINUS ? EVM__N_NEG : EVM__N_POS;
        P->i++;
        int a = parse_unary(P);
        k = a < 0 ? -1 : new_node(P, kind, pos, P->ast->node[a].end, a, -1);
    } else {
        k = parse_pow(P);
    }
    P->depth--;
    return k;
}

/* Left-associative binary levels: ':' above '*' '/', above '+' '-'. */
static int parse_level(parser *P, int level)
{
    static const tok_type ops[3][2] = {{T_PLUS, T_MINUS}, {T_STAR, T_SLASH}, {T_COLON, T_COLON}};
    int l = level == 2 ? parse_unary(P) : parse_level(P, level + 1);
    while (l >= 0) {
        const token *t = peek(P);
        if (t->type != ops[level][0] && t->type != ops[level][1]) break;
        char op = tok_text(t->type)[0];
        int pos = t->pos;
        P->i++;
        int r = level == 2 ? parse_unary(P) : parse_level(P, level + 1);
        if (r < 0) return -1;
        l = new_node(P, EVM__N_BIN, pos, P->ast->node[r].end, l, r);
        if (l >= 0) P->ast->node[l].op = op;
    }
    return l;
}

static int parse_or(parser *P)
{
    if (enter(P) < 0) return -1;
    int l = parse_level(P, 0);
    while (l >= 0) {
        const token *t = peek(P);
        if (t->type != T_BAR && t->type != T_DBAR) break;
        evm__nkind kind = t->type == T_BAR ? EVM__N_BAR : EVM__N_DBAR;
        int pos = t->pos;
        tok_type next = P->tok[P->i + 1].type;
        if (next == T_RPAREN || next == T_END)
            return fail_at(P, pos, "%s", "random term without grouping factor");
        P->i++;
        int r = parse_level(P, 0);
        if (r < 0) return -1;
        l = new_node(P, kind, pos, P->ast->node[r].end, l, r);
    }
    P->depth--;
    return l;
}

static int parse_formula(parser *P)
{
    int ntilde = 0, first_tilde = -1;
    for (int k = 0; k < P->ntok; k++)
        if (P->tok[k].type == T_TILDE && ntilde++ == 0) first_tilde = k;
    if (P->ntok == 0) return fail_at(P, 0, "%s", "empty formula");
    if (ntilde == 0)
        return fail_at(P, P->tok[P->ntok - 1].end,
                       "%s", "missing '~' (write 'response ~ terms')");
    if (first_tilde == 0) return fail_at(P, P->tok[0].pos, "%s", "missing response before '~'");
    P->ast->lhs = parse_or(P);
    if (P->ast->lhs < 0) return -1;
    if (peek(P)->type != T_TILDE) return fail_unexpected(P);
    P->ast->tilde = peek(P)->pos;
    P->i++;
    P->ast->rhs = parse_or(P);
    if (P->ast->rhs < 0) return -1;
    if (peek(P)->type != T_END) return fail_unexpected(P);
    return 0;
}

int evm__ast_parse(const char *text, evm__ast *ast, evm_ctx *c)
{
    memset(ast, 0, sizeof *ast);
    ast->text = text;
    ast->lhs = ast->rhs = -1;
    parser P = {.text = text, .ast = ast, .c = c};
    int st = lex(text, &P.tok, &P.ntok, c);
    if (st < 0) return st;
    if (parse_formula(&P) < 0) {
        st = P.status < 0 ? P.status : EVM_ERR_FORMULA;
        evm__ast_free(ast);
        ast->text = text;
    }
    free(P.tok);
    return st;
}
