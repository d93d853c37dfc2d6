-- Who or what started a deployment, and a link back to where it runs (the CI job, the
-- forge's page), as a pushing source or a webhook reports them.
ALTER TABLE deployments ADD COLUMN triggered_by TEXT;
ALTER TABLE deployments ADD COLUMN url TEXT;
