# Cloud targets (issue 4). Included by the Makefile, which defines VENV and PY.
# `synth` needs no AWS account, no network once the layer is built, and no CDK CLI.

LAYER_STAMP := layers/core/build/.sources-stamp
CDK := npx --no-install cdk
STAGE_STACKS := 'Watershed-*'
# The app holds the stage's stack and the account's bootstrap stack (WatershedAccount, infra/account.py).
# deploy names the stage stack and brings its dependency along; destroy never touches the bootstrap.

.PHONY: layer synth deploy diff destroy lint-cfn bench-infra

layer:
	$(PY) scripts/build_layer.py

synth: layer
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1,20 $(PY) app.py

node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deploy: layer node_modules/.bin/cdk
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1,20 $(CDK) deploy --require-approval broadening $(CDK_ARGS) $(STAGE_STACKS)

diff: layer node_modules/.bin/cdk
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1,20 $(CDK) diff $(CDK_ARGS) --all

destroy: node_modules/.bin/cdk
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1,20 $(CDK) destroy $(CDK_ARGS) $(STAGE_STACKS)

# W3005: CDK adds an explicit DependsOn beside a GetAtt (role before function); harmless.
# W7001: an unused CIDR mapping the CDK Firehose construct emits itself.
lint-cfn: synth
	$(VENV)/bin/cfn-lint --ignore-checks W3005 W7001 -- cdk.out/*.template.json

bench-infra: layer
	$(PY) tests/bench/bench_infra.py
