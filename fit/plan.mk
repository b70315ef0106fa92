# fit/plan.mk: the planner over laws (shape calculus, optima, budgets): libplan.a
