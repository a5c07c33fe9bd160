from django.db import migrations

from matchpal.db import CompositeForeignKey


class Migration(migrations.Migration):
    """A provider's service type and the provider belong to the row's organization."""

    # matchpal 0002 gives ServiceType its organization and the (organization, id) key that
    # provider_service_type_org references; without it a fresh database may run this first.
    dependencies = [("providers", "0001_initial"), ("matchpal", "0002_initial")]

    operations = [
        CompositeForeignKey(table="providers_providerservice", column="provider_id",
                            ref_table="providers_provider", name="provider_service_provider_org"),
        CompositeForeignKey(table="providers_providerservice", column="service_type_id",
                            ref_table="matchpal_servicetype", name="provider_service_type_org"),
    ]
