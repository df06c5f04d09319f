"""Code the components deploy as Lambda functions of their own.

Each module here is shipped as a single file asset (e.g. `publisher.py` with handler
`publisher.handler`), so it uses only the standard library and boto3, never pulumi and
never anything else from this repository.
"""
