"""The leave service's HTTP side: the application service (`service`), the commands and
queries handlers, their schemas and the OpenAPI document."""
