from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from shared.database.models.providers import ProviderKind


class Migration(migrations.Migration):
    dependencies = [("plait", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ModelProvider",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=64)),
                (
                    "kind",
                    fields.CharEnumField(
                        default=ProviderKind.OPENAI,
                        description="OPENAI: openai",
                        enum_type=ProviderKind,
                        max_length=16,
                    ),
                ),
                ("base_url", fields.CharField(null=True, max_length=2048)),
                ("secret_name", fields.CharField(max_length=128)),
                ("default_model", fields.CharField(null=True, max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "model_providers",
                "app": "plait",
                "unique_together": (("tenant", "name"),),
                "pk_attr": "id",
                "table_description": "A named model provider of a tenant, as an ``llm`` node's ``provider`` names it.",
            },
            bases=["Model"],
        ),
    ]
