/* plan_law.c: see plan_law.h. */
#include "plan_law.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ehat.h"
#include "json_io.h"
#include "paths.h"

void l720_plan_law_published(l720_plan_law *law)
{
    memset(law, 0, sizeof *law);
    law->kind = L720_LAW_JOINT_MOE;
    snprintf(law->path, sizeof law->path, "(published joint MoE fit)");
    law->a = 35.91, law->alpha = -0.1889, law->delta = -0.2285, law->gamma = 0.0098;
    law->b = 35.98, law->beta = -0.1775, law->omega = 0.5529, law->zeta = -0.0259;
    law->E_start = 2.0732, law->E_max = 290.4521, law->c = 1.3637;
}

/* Resolves a law name to a path: a path is kept, a name is DATA/laws/NAME.json. */
static void law_path(const char *name, char *path, size_t n)
{
    size_t len = strlen(name);
    if (strchr(name, '/') || (len > 5 && !strcmp(name + len - 5, ".json"))) {
        snprintf(path, n, "%s", name);
        return;
    }
    char rel[512];
    snprintf(rel, sizeof rel, "laws/%.400s.json", name);
    if (!l720_path_join(path, n, l720_data_dir(), rel))
        snprintf(path, n, "%s", name);
}

/* Reads params.KEY; a missing coefficient names itself and the file. */
static int coef(const cJSON *params, const char *key, const char *path, double *out,
                l720_err *err)
{
    char field[64];
    snprintf(field, sizeof field, "params.%s", key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (!v)
        return l720_err_at(err, L720_EINPUT, path, 0, field, "missing coefficient");
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return l720_err_at(err, L720_EINPUT, path, 0, field, "expected a finite number");
    *out = v->valuedouble;
    return 0;
}

static int load_joint(const cJSON *p, const char *path, l720_plan_law *law, l720_err *err)
{
    int rc;
    if ((rc = coef(p, "a", path, &law->a, err)) || (rc = coef(p, "alpha", path, &law->alpha, err)) ||
        (rc = coef(p, "delta", path, &law->delta, err)) ||
        (rc = coef(p, "gamma", path, &law->gamma, err)) ||
        (rc = coef(p, "b", path, &law->b, err)) || (rc = coef(p, "beta", path, &law->beta, err)) ||
        (rc = coef(p, "omega", path, &law->omega, err)) ||
        (rc = coef(p, "zeta", path, &law->zeta, err)) ||
        (rc = coef(p, "E_start", path, &law->E_start, err)) ||
        (rc = coef(p, "E_max", path, &law->E_max, err)) || (rc = coef(p, "c", path, &law->c, err)))
        return rc;
    if (!(law->a > 0) || !(law->b > 0))
        return l720_err_at(err, L720_EINPUT, path, 0, law->a > 0 ? "params.b" : "params.a",
                           "must be positive");
    if (!(law->E_start > 0 && law->E_start < law->E_max))
        return l720_err_at(err, L720_EINPUT, path, 0, "params.E_start",
                           "expected 0 < E_start < E_max, got E_start = %g, E_max = %g",
                           law->E_start, law->E_max);
    return 0;
}

static int load_chinchilla(const cJSON *p, const char *path, l720_plan_law *law, l720_err *err)
{
    double E, A, B, alpha, beta;
    int rc;
    if ((rc = coef(p, "E", path, &E, err)) || (rc = coef(p, "A", path, &A, err)) ||
        (rc = coef(p, "B", path, &B, err)) || (rc = coef(p, "alpha", path, &alpha, err)) ||
        (rc = coef(p, "beta", path, &beta, err)))
        return rc;
    if (!(A > 0) || !(B > 0))
        return l720_err_at(err, L720_EINPUT, path, 0, A > 0 ? "params.B" : "params.A",
                           "must be positive");
    if (!(alpha > 0) || !(beta > 0))
        return l720_err_at(err, L720_EINPUT, path, 0, alpha > 0 ? "params.beta" : "params.alpha",
                           "must be positive (L = E + A/N^alpha + B/D^beta)");
    law->a = A, law->alpha = -alpha, law->b = B, law->beta = -beta, law->c = E;
    law->delta = law->gamma = law->omega = law->zeta = 0;
    law->E_start = 1, law->E_max = 2; /* unused: the law does not depend on E */
    return 0;
}

int l720_plan_law_load(const char *name, l720_plan_law *law, l720_err *err)
{
    memset(law, 0, sizeof *law);
    law_path(name ? name : L720_DEFAULT_LAW, law->path, sizeof law->path);
    cJSON *j = l720_json_read(law->path, err);
    if (!j)
        return err ? err->code : L720_EINPUT;
    int rc;
    const char *kind;
    if ((rc = l720_json_string(j, "law", law->path, &kind, err)))
        goto done;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
    if (!cJSON_IsObject(params)) {
        rc = l720_err_at(err, L720_EINPUT, law->path, 0, "params",
                         "missing, expected an object of coefficients");
        goto done;
    }
    if (!strcmp(kind, "joint_moe")) {
        law->kind = L720_LAW_JOINT_MOE;
        rc = load_joint(params, law->path, law, err);
    } else if (!strcmp(kind, "chinchilla")) {
        law->kind = L720_LAW_CHINCHILLA;
        rc = load_chinchilla(params, law->path, law, err);
    } else {
        rc = l720_err_at(err, L720_EINPUT, law->path, 0, "law",
                         "unknown law '%s', expected joint_moe or chinchilla", kind);
    }
done:
    cJSON_Delete(j);
    return rc;
}

int l720_plan_law_terms(const l720_plan_law *law, double E, l720_law_terms *t, l720_err *err)
{
    if (!(E >= 1))
        return l720_err_set(err, L720_EINPUT, "expert count must be >= 1, got %g", E);
    double eh = law->kind == L720_LAW_JOINT_MOE ? l720_ehat(E, law->E_start, law->E_max) : 1.0;
    double le = log(eh);
    t->m = law->a * pow(eh, law->delta);
    t->mu = -(law->alpha + law->gamma * le);
    t->n = law->b * pow(eh, law->omega);
    t->nu = -(law->beta + law->zeta * le);
    t->c = law->c;
    if (!(t->mu > 0) || !(t->nu > 0))
        return l720_err_set(err, L720_EINPUT,
                            "%s: at E = %g the law's exponents are not both negative "
                            "(alpha + gamma ln Ehat = %g, beta + zeta ln Ehat = %g): no optimum",
                            law->path, E, -t->mu, -t->nu);
    return 0;
}

double l720_law_terms_loss(const l720_law_terms *t, double N, double D)
{
    return t->m * pow(N, -t->mu) + t->n * pow(D, -t->nu) + t->c;
}

double l720_plan_law_loss(const l720_plan_law *law, double N_act, double D, double E)
{
    if (!(E >= 1))
        return NAN;
    double eh = law->kind == L720_LAW_JOINT_MOE ? l720_ehat(E, law->E_start, law->E_max) : 1.0;
    double le = log(eh);
    return law->a * pow(eh, law->delta) * pow(N_act, law->alpha + law->gamma * le) +
           law->b * pow(eh, law->omega) * pow(D, law->beta + law->zeta * le) + law->c;
}
