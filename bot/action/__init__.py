"""The bot inside CI: the GitHub Action (`actions/review`, `actions/fix`) and the GitLab CI
template (`actions/gitlab/assist-review.gitlab-ci.yml`) run `assist action ...`.

``context`` turns the runner's environment and event payload into what to do (pure),
``report`` turns a review into outputs, a job summary, annotations, SARIF and a GitLab Code
Quality report (pure), and ``run`` does the I/O: the forge, the model, the files the runner
reads back.
"""
