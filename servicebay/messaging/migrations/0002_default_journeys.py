from django.db import migrations


def install_defaults(apps, schema_editor):
    from servicebay.messaging.defaults import install

    install(apps.get_model("messaging", "MessageTemplate"), apps.get_model("messaging", "Journey"))


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]
    operations = [migrations.RunPython(install_defaults, migrations.RunPython.noop)]
