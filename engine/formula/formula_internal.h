/* formula_internal.h — the parsed form of an lme4 formula, shared by the files of
 * engine/formula (parse.c, terms.c, design.c, group.c, rank.c, modelframe.c, columns.c).
 *
 * Pipeline: text --parse.c--> syntax tree (evm__ast) --terms.c--> evm__formula (variables,
 * the fixed-effects term list, the random-effects terms with their grouping factors)
 * --modelframe.c (+ design.c, group.c, rank.c)--> evm__modelframe. */
#ifndef EVM_FORMULA_INTERNAL_H
#define EVM_FORMULA_INTERNAL_H

#include "formula/modelframe.h"
#include "internal.h"

#include <stdint.h>

/* Limits that keep hostile formulas from exhausting memory or the stack. */
#define EVM__MAX_DEPTH 200      /* nesting of parentheses and operators */
#define EVM__MAX_LOCAL_VARS 64  /* variables in one term list: terms are 64-bit masks */
#define EVM__MAX_TERMS 1024     /* terms of one term list, at any stage of expansion */


/* ------------------------------------------------------------ syntax tree (parse.c) */
typedef enum {
    EVM__N_NAME,   /* column name: x, `my var` */
    EVM__N_NUM,    /* number literal */
    EVM__N_CALL,   /* factor(x): name = "factor", a = argument (an EVM__N_NAME) */
    EVM__N_PAREN,  /* ( a ) */
    EVM__N_NEG,    /* - a */
    EVM__N_POS,    /* + a */
    EVM__N_BIN,    /* a op b, op one of + - * / : ^ */
    EVM__N_BAR,    /* a | b */
    EVM__N_DBAR    /* a || b */
} evm__nkind;

typedef struct {
    evm__nkind kind;
    char op;       /* EVM__N_BIN: '+', '-', '*', '/', ':', '^'; else 0 */
    int pos;       /* byte offset of the node's first character (operators: of the
                      operator) in the formula text */
    int end;       /* byte offset just after the node's last character */
    int a, b;      /* children (node indices), -1 when absent */
    char *name;    /* NAME: column name without backquotes; CALL: function name */
    double num;    /* NUM */
} evm__node;

typedef struct {
    const char *text;   /* the formula (not owned) */
    int nnodes, cap;
    evm__node *node;
    int lhs, rhs;       /* node indices of the two sides of '~' */
    int tilde;          /* byte offset of '~' */
} evm__ast;

/* Parse `text` into a syntax tree.  Syntax errors: EVM_ERR_FORMULA with a caret. */
int evm__ast_parse(const char *text, evm__ast *ast, evm_ctx *c);
void evm__ast_free(evm__ast *ast);

/* Fail with `--formula: <what>: <text>` and the caret under byte `pos` of the text. */
int evm__formula_fail(evm_ctx *c, int status, const char *text, int pos, const char *fmt,
                      ...) EVM__PRINTF(5, 6);

/* ------------------------------------------------------------ terms (terms.c) */
/* A variable of the formula: a column, used either as written (numeric if the frame column
 * is numeric) or as a factor (factor(x), grouping factors).  The same column may be both. */
typedef struct {
    char *name;      /* column name */
    int as_factor;   /* 1: factor(x) or a grouping factor */
    int pos;         /* first occurrence in the formula text (for messages) */
} evm__fvar;

/* A term list as R's terms() makes it from a one-sided formula: the model matrix of
 * `~ rhs`.  Variables are numbered in order of first appearance in rhs (R's order); a term
 * is a bit mask over them; terms are sorted by degree, ties in order of appearance. */
typedef struct {
    int nvars;
    int var[EVM__MAX_LOCAL_VARS];   /* local variable -> index into evm__formula.var */
    int intercept;
    int nterms;
    uint64_t *term;                 /* [nterms] */
} evm__design;

/* A grouping factor: the interaction of one or more factor variables, the first varying
 * slowest (R's a:b on factors). */
typedef struct {
    char *name;      /* as lme4 names it: "Subject", "b:a", "c:(b:a)", "a:b" */
    int nvars;
    int *var;        /* [nvars] indices into evm__formula.var */
    int pos;
} evm__group;

typedef struct {
    evm__design d;   /* the term's model matrix */
    int group;       /* index into evm__formula.group */
    int pos;         /* byte offset of the random term's '(' */
    char *label;     /* "Days | Subject", "0 + x | g", for messages */
} evm__rterm;

typedef struct {
    char *text;          /* the formula as given */
    int nvars, capvars;
    evm__fvar *var;      /* var[0] is the response */
    evm__design fixed;
    int ngroups;
    evm__group *group;
    int nre;
    evm__rterm *re;      /* expanded, in lme4's findbars order */
} evm__formula;

/* Parse and expand a formula.  Errors: EVM_ERR_FORMULA (with caret), EVM_ERR_NOMEM. */
int evm__formula_parse(const char *text, evm__formula **out, evm_ctx *c);
void evm__formula_free(evm__formula **F);

/* The name R prints for column `name`: itself if syntactic, else in backquotes. */
char *evm__deparse_name(const char *name);
/* The name R prints for variable `v` inside a model matrix: x, `my var`, factor(x). */
char *evm__var_display(const evm__formula *F, int v);

/* ------------------------------------------------------------ model frame pieces */
/* A variable prepared for the rows used (modelframe.c). */
typedef struct {
    int is_factor;
    const double *x;         /* numeric: [n] values of the rows used */
    const int32_t *code;     /* factor: [n] codes 0..nlev-1 of the rows used */
    int32_t nlev;            /* factor: levels that occur in the rows used */
    const char *const *label;/* factor: [nlev] labels, in (re)level order */
} evm__mvar;

/* How each formula variable is read from the frame and prepared for the rows used
 * (varprep.c).  The frame is const: relevelling and dropping unused levels happen in the
 * maps kept here. */
typedef struct {
    int col;                 /* frame column */
    int is_factor;
    const int32_t *fcode;    /* factor: codes of all frame rows (frame's or own_code) */
    int32_t fnlev;           /* factor: levels in the frame */
    const char *const *flabel; /* factor: [fnlev] frame labels (frame's or own_label) */
    int32_t *own_code;       /* a numeric column made a factor (factor(x), grouping) */
    char **own_label;
    int32_t ref;             /* frame level moved first by --ref, or -1 */
    int32_t *map;            /* [fnlev] frame level -> used level, -1 when unused */
    const char **label;      /* [nlev] used labels, in level order */
    double *x;               /* numeric: [n] values of the rows used (gathered) */
    int32_t *code;           /* factor: [n] used-level codes of the rows used */
} evm__vprep;

typedef struct {
    evm__formula *F;
    const evm_frame *f;
    const evm_lmm_opts *o;
    evm_ctx *c;
    int64_t nrows;       /* rows in the frame */
    int64_t n;           /* rows used */
    int64_t *rows;       /* [n] frame rows used; NULL when every row is used */
    char *drop_reason;
    int wcol;            /* weights column, -1 if none */
    double *w;           /* [n] gathered weights, NULL if none */
    evm__vprep *vp;      /* [F->nvars] */
    evm__mvar *mv;       /* [F->nvars] views of vp for design.c and group.c */
    int has_cluster;     /* opts.cluster: a factor kept for cluster-robust SEs */
    evm__vprep cvp;
    evm__mvar cmv;
} evm__prep;

/* Resolve every variable to a frame column (EVM_ERR_COLUMN / EVM_ERR_TYPE with a caret),
 * the weights and cluster columns, and the --ref settings (EVM_ERR_VALUE). */
int evm__prep_columns(evm__prep *P);
/* Choose the rows without missing values, gather every variable and the weights, drop
 * unused levels.  EVM_ERR_MODEL when no row is left, EVM_ERR_VALUE for a bad weight. */
int evm__prep_rows(evm__prep *P);
void evm__prep_free(evm__prep *P);

/* The model matrix of a design (design.c), as R's model.matrix with treatment contrasts.
 * ncol_out: columns; names_out: [ncol] fresh strings; M (if `fill`): [n x ncol]. */
int evm__design_ncol(const evm__design *d, const evm__mvar *mv, int64_t *ncol);
int evm__design_build(const evm__formula *F, const evm__design *d, const evm__mvar *mv,
                      int64_t n, int fill, char ***names_out, double **M_out, int *ncol_out,
                      evm_ctx *c);
/* For type-3 hypotheses: term[j] of each column (-1: intercept) and level[j*nvars + v],
 * the level of local factor v in column j (-1 where v is numeric or not in the term). */
int evm__design_cells(const evm__design *d, const evm__mvar *mv, int *term, int32_t *level);

/* Codes and labels of the interaction of factors (group.c): only combinations that
 * occur, ordered with the first factor slowest; O(n + sum of levels).  Returns EVM_OK or
 * EVM_ERR_NOMEM (no message); codes [n] and labels [nlevels] (each malloc'd) are fresh. */
int evm__group_codes(const evm__mvar *const *f, int nf, int64_t n, int32_t **codes_out,
                     int64_t *nlevels_out, char ***labels_out);

/* Aliased columns of X (rank.c): keep[j] = 0 for a column whose norm after projection on
 * the earlier kept columns is < tol * its norm (R's dqrdc2 with tol 1e-7). */
int evm__rank_keep(const double *X, int64_t n, int p, double tol, int threads, int *keep);
/* R's alias() (for type-3 hypotheses): alias[j * nk + a] = coefficient of the a-th kept
 * column in dropped column j (nk kept columns; zero rows for kept columns). */
int evm__rank_alias(const double *X, int64_t n, int p, const int *keep, int threads,
                    double *alias);

#endif
