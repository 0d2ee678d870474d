# Reference values for partner_analysis.estimate / kpi.designs (issue #11), computed with R only.
#
#   Rscript tests/reference/designs_r.R generated tests/reference/designs_generated.csv tests/reference/designs_generated_r.csv
#   Rscript tests/reference/designs_r.R uci ../shared/data/uci_student_performance tests/reference/designs_uci_r.csv
#   Rscript tests/reference/designs_r.R frame FRAME.csv OUT.csv cov1,cov2,...     (live test on the demo district)
#
# Models (the "Precise definitions" of issue #11):
#   continuous: lm(y ~ treated + prior + covariates + factor(cell)); SE = sandwich::vcovCL(fit, cluster = ~school,
#               type = "HC1") (CR1); p = lmtest::coeftest(fit, vcov = V, df = G - 1).
#   binary:     glm(binomial, control = glm.control(epsilon = 1e-10, maxit = 100)) on the same terms, after dropping
#               school x grade cells without outcome variation; marginal standardisation (mean predicted probability
#               with treated = 1, then 0) and the delta-method SE of the difference from vcovCL(type = "HC1").
# Output: one row per case x quantity, with the R and package versions that produced it.
suppressPackageStartupMessages({library(sandwich); library(lmtest)})

args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
versions <- sprintf("%s; sandwich %s; lmtest %s", R.version.string, packageVersion("sandwich"),
                    packageVersion("lmtest"))

fit_case <- function(d, outcome, prior, covs, school, cell) {
  d$cell__ <- factor(d[[cell]])
  # R's lm refuses a one-level factor; a constant column is dropped, as partner_analysis does
  covs <- covs[vapply(covs, function(v) length(unique(d[[v]])) > 1, logical(1))]
  rhs <- paste(c("treated", prior, covs, if (nlevels(d$cell__) > 1) "cell__"), collapse = " + ")
  f <- as.formula(paste(outcome, "~", rhs))
  y <- d[[outcome]]
  binary <- all(y %in% c(0, 1))
  G <- length(unique(d[[school]]))
  cl <- as.formula(paste("~", school))
  if (!binary) {
    fit <- lm(f, data = d)
    V <- vcovCL(fit, cluster = cl, type = "HC1")
    ct <- coeftest(fit, vcov. = V, df = G - 1)
    return(c(estimate = unname(coef(fit)["treated"]), se = unname(sqrt(V["treated", "treated"])),
             p = ct["treated", 4], rank = fit$rank, n = nrow(d), G = G))
  }
  # school x grade cells and levels of character covariates in which every student has the same outcome are left
  # out (infinite coefficient: quasi-separation), repeated until none is left - Stata's logit rule
  groups <- c("cell__", covs[vapply(covs, function(v) is.character(d[[v]]), logical(1))])
  repeat {
    before <- nrow(d)
    for (g in groups) {
      varies <- ave(d[[outcome]], d[[g]], FUN = function(v) as.numeric(length(unique(v)) > 1)) == 1
      d <- d[varies, ]
    }
    if (nrow(d) == before) break
  }
  d <- droplevels(d)
  covs <- covs[vapply(covs, function(v) length(unique(d[[v]])) > 1, logical(1))]
  rhs <- paste(c("treated", prior, covs, if (nlevels(d$cell__) > 1) "cell__"), collapse = " + ")
  f <- as.formula(paste(outcome, "~", rhs))
  fit <- glm(f, data = d, family = binomial, control = glm.control(epsilon = 1e-10, maxit = 100))
  # glm stores the working weights of the last-but-one iterate. Two restarts from the converged coefficients make
  # them (and so vcovCL's bread and scores) those of the MLE to machine precision, which is what partner_analysis
  # computes (it takes one Newton step past its 1e-10 criterion)
  for (restart in 1:2) {
    fit <- glm(f, data = d, family = binomial, start = ifelse(is.na(coef(fit)), 0, coef(fit)),
               control = glm.control(epsilon = 1e-10, maxit = 100))
  }
  V <- vcovCL(fit, cluster = cl, type = "HC1")
  b <- coef(fit)
  ok <- !is.na(b)
  X <- model.matrix(fit)[, ok, drop = FALSE]
  b <- b[ok]
  V <- V[names(b), names(b)]
  X1 <- X; X1[, "treated"] <- 1
  X0 <- X; X0[, "treated"] <- 0
  mu1 <- plogis(drop(X1 %*% b)); mu0 <- plogis(drop(X0 %*% b))
  p1 <- mean(mu1); p0 <- mean(mu0)
  grad <- colMeans(mu1 * (1 - mu1) * X1) - colMeans(mu0 * (1 - mu0) * X0)
  se <- sqrt(drop(t(grad) %*% V %*% grad))
  G <- length(unique(d[[school]]))
  c(p_t = p1, p_c = p0, estimate = p1 - p0, se = se, p = 2 * pt(abs((p1 - p0) / se), G - 1, lower.tail = FALSE),
    rank = fit$rank, n = nrow(d), G = G)
}

emit <- function(case, values, source) {
  data.frame(case = case, quantity = names(values), value = sprintf("%.17g", unname(values)), source = source)
}

if (mode == "generated") {
  # Seeded data with the hard parts: a literal "NA" category, a constant and an aliased covariate,
  # unequal cluster sizes, school x grade cells, a cell without outcome variation for the binary model.
  set.seed(20261130)
  n <- 1200
  school <- sample(sprintf("S%02d", 1:14), n, replace = TRUE, prob = c(3, 1, 2, 1, 1, 2, 1, 1, 3, 1, 1, 2, 1, 1))
  grade <- sample(9:12, n, replace = TRUE)
  frl <- ifelse(runif(n) < 0.45, "True", "False")
  gender <- sample(c("F", "M", "NA", "X"), n, replace = TRUE, prob = c(0.48, 0.46, 0.04, 0.02))
  age <- grade + 5 + sample(0:1, n, replace = TRUE)
  prior <- rnorm(n, 2.8 + 0.2 * (frl == "False"), 0.6)
  treated <- as.integer(runif(n) < plogis(-1.2 + 0.8 * (prior - 2.8) + 0.3 * (frl == "True")))
  const_cov <- rep("same", n)
  alias_cov <- ifelse(frl == "True", "yes", "no")
  y <- 0.6 * prior + 0.15 * treated - 0.1 * (frl == "True") + 0.05 * age + rnorm(n, 0, 0.5) +
    rnorm(14, 0, 0.2)[as.integer(factor(school))]
  yb <- as.integer(runif(n) < plogis(-0.5 + 1.1 * (prior - 2.8) + 0.4 * treated))
  # one school x grade cell without outcome variation
  yb[school == "S02" & grade == 9] <- 1L
  d <- data.frame(student_id = sprintf("G%05d", 1:n), school_id = school, grade_level = grade, treated = treated,
                  y = y, yb = yb, prior = prior, frl = frl, gender = gender, age = age, const_cov = const_cov,
                  alias_cov = alias_cov)
  write.csv(d, args[2], row.names = FALSE)
  d <- read.csv(args[2], colClasses = c(frl = "character", gender = "character", const_cov = "character",
                                        alias_cov = "character", school_id = "character"),
                na.strings = character(0))
  d$cell <- paste(d$school_id, d$grade_level, sep = "|")
  covs <- c("frl", "gender", "age", "const_cov", "alias_cov")
  src <- paste("R lm/glm + sandwich::vcovCL(type = 'HC1'):", versions)
  out <- rbind(emit("generated_continuous", fit_case(d, "y", "prior", covs, "school_id", "cell"), src),
               emit("generated_binary", fit_case(d, "yb", "prior", covs, "school_id", "cell"), src))
  write.csv(out, args[3], row.names = FALSE)
} else if (mode == "uci") {
  out <- NULL
  for (f in c("student-mat.csv", "student-por.csv")) {
    d <- read.csv(file.path(args[2], f), sep = ";", stringsAsFactors = FALSE)
    d$treated <- as.integer(d$schoolsup == "yes")
    d$pass <- as.integer(d$G3 >= 10)
    d$prior_pass <- as.integer(d$G1 >= 10)
    covs <- c("sex", "age", "address", "Medu", "Fedu")
    src <- paste("R lm/glm + sandwich::vcovCL(type = 'HC1') on UCI", f, ":", versions)
    # school is both the fixed effect and the cluster (the data have no grade); G = 2, so df = 1
    out <- rbind(out, emit(paste0("uci_", f, "_G3"), fit_case(d, "G3", "G1", covs, "school", "school"), src),
                 emit(paste0("uci_", f, "_pass"), fit_case(d, "pass", "prior_pass", covs, "school", "school"), src))
  }
  write.csv(out, args[3], row.names = FALSE)
} else if (mode == "frame") {
  covs <- if (length(args) >= 4 && nchar(args[4]) > 0) strsplit(args[4], ",")[[1]] else character(0)
  cls <- setNames(rep("character", length(covs) + 4), c(covs, "school_id", "student_id", "partner_id", "kpi_id"))
  d <- read.csv(args[2], colClasses = cls, na.strings = character(0))
  d <- d[d$weight > 0, ]
  d$cell <- paste(d$school_id, d$grade_level, sep = "|")
  out <- NULL
  for (key in unique(paste(d$partner_id, d$kpi_id, sep = "/"))) {
    s <- d[paste(d$partner_id, d$kpi_id, sep = "/") == key, ]
    r <- tryCatch(fit_case(s, "outcome", "prior", covs, "school_id", "cell"), error = function(e) NULL)
    if (!is.null(r)) out <- rbind(out, emit(key, r, paste("R:", versions)))
  }
  write.csv(out, args[3], row.names = FALSE)
} else {
  stop("mode must be generated, uci or frame")
}
