"""One Prefect flow per incident type, all on the stage skeleton in `flows.lifecycle`."""
