/* par.h: when a loop is worth running on several threads.
 *
 * Loops whose work (roughly, multiply-adds) is below L720_PAR_MIN run on the
 * calling thread: forking a team costs more than a tiny layer. Whether a loop
 * runs in parallel never changes its result (each output element is computed
 * by one thread, in a fixed order).
 */
#ifndef L720_PAR_H
#define L720_PAR_H

#define L720_PAR_MIN 65536.0
#define L720_PAR(work) ((double)(work) >= L720_PAR_MIN)

#endif
