# Configures the sandbox Redmine for the example rulebooks. Run by sandbox/redmine.sh through
# `rails runner`; every step finds before it creates, so running it again changes nothing.
# Prints KEY=value lines that the shell script keeps in var/sandbox-redmine.env.

Redmine::DefaultData::Loader.load('en') if Tracker.count.zero?

Setting.rest_api_enabled = '1'
Setting.cross_project_issue_relations = '1'
Setting.notified_events = []          # no mail server in the sandbox
Setting.default_language = 'en'

new_status = IssueStatus.find_by!(name: 'New')
support_tracker = Tracker.find_by!(name: 'Support')

STATUSES = ['Waiting for customer', 'Needs development'].freeze
STATUSES.each_with_index do |name, i|
  IssueStatus.find_or_create_by!(name: name) { |s| s.is_closed = false; s.position = 10 + i }
end

def ensure_tracker(name, template, default_status)
  tracker = Tracker.find_or_initialize_by(name: name)
  return tracker unless tracker.new_record?
  tracker.default_status = default_status
  tracker.core_fields = Tracker::CORE_FIELDS
  tracker.save!
  WorkflowRule.copy(template, nil, tracker, nil)
  tracker
end

incident = ensure_tracker('Incident', support_tracker, new_status)
nonconformity = ensure_tracker('Nonconformity', support_tracker, new_status)
observation = ensure_tracker('Observation', support_tracker, new_status)
# Change control (examples/rulebooks/change-control.yaml): change requests follow Feature's workflow.
change_request = ensure_tracker('Change request', Tracker.find_by!(name: 'Feature'), new_status)
# The added statuses join every tracker's workflow so staff (and rules) can move into them.
STATUSES.each do |name|
  status = IssueStatus.find_by!(name: name)
  Tracker.all.each do |tracker|
    Role.all.select(&:consider_workflow?).each do |role|
      IssueStatus.where(is_closed: false).each do |from|
        next if from == status
        WorkflowTransition.find_or_create_by!(tracker: tracker, role: role, old_status: from, new_status: status)
        WorkflowTransition.find_or_create_by!(tracker: tracker, role: role, old_status: status, new_status: from)
      end
    end
  end
end

def ensure_field(name, format, trackers, possible_values: nil, default: nil)
  field = IssueCustomField.find_or_initialize_by(name: name)
  field.field_format = format
  field.possible_values = possible_values if possible_values
  field.default_value = default if default
  field.is_for_all = true
  field.is_filter = true
  field.searchable = format == 'string'
  field.tracker_ids = (field.tracker_ids + trackers.map(&:id)).uniq
  field.save!
  field
end

issue_trackers = [incident, support_tracker]
all_trackers = Tracker.all.to_a
ensure_field('Failure origin', 'list', all_trackers,
             possible_values: %w[unknown internal customer third-party infrastructure])
ensure_field('Team', 'list', all_trackers, possible_values: %w[support network applications])
ensure_field('SLA status', 'list', issue_trackers,
             possible_values: %w[on_track warning paused met breached])
ensure_field('SLA due', 'date', issue_trackers)
ensure_field('SLA due at', 'string', issue_trackers)
ensure_field('Triage', 'string', issue_trackers)
ensure_field('Satisfaction', 'int', issue_trackers)
ensure_field('External reference', 'string', all_trackers)
# The ISO 9001 10.2 record's parts that people fill in on nonconformities and observations.
record_trackers = [nonconformity, observation]
ensure_field('ISO clause', 'string', record_trackers)
ensure_field('Severity', 'list', record_trackers, possible_values: %w[minor major])
ensure_field('Root cause', 'text', record_trackers)
ensure_field('Corrective action', 'text', record_trackers)
ensure_field('Effectiveness review', 'text', record_trackers)
ensure_field('Review due', 'date', record_trackers)
# The change board's decision and the assessment it needs (no default: the rulebook sets Pending).
ensure_field('Approval', 'list', [change_request], possible_values: %w[Pending Approved Rejected])
ensure_field('Impact', 'list', [change_request], possible_values: %w[Low Medium High])
ensure_field('Risk', 'list', [change_request], possible_values: %w[Low Medium High])

def ensure_project(identifier, name, trackers)
  project = Project.find_or_initialize_by(identifier: identifier)
  project.name = name
  project.is_public = true
  project.tracker_ids = (project.tracker_ids + trackers.map(&:id)).uniq
  project.enabled_module_names = (project.enabled_module_names + %w[issue_tracking wiki]).uniq
  project.save!
  project
end

bug = Tracker.find_by!(name: 'Bug')
projects = [
  ensure_project('support', 'Support', [incident, support_tracker]),
  ensure_project('development', 'Development', [bug, Tracker.find_by!(name: 'Feature')]),
  ensure_project('quality', 'Quality', [nonconformity, observation]),
  ensure_project('knowledge', 'Knowledge', []),  # knowledge-base articles: its wiki
  ensure_project('changes', 'Changes', [change_request]),  # change requests, apart from incidents
]

def ensure_user(login, firstname, lastname, password)
  user = User.find_or_initialize_by(login: login)
  user.firstname = firstname
  user.lastname = lastname
  user.mail = "#{login}@sandbox.invalid"
  user.language = 'en'
  user.status = User::STATUS_ACTIVE
  user.must_change_passwd = false
  user.password = user.password_confirmation = password
  user.save!
  user.pref.update!(no_self_notified: true) rescue nil
  user
end

manager = Role.find_by!(name: 'Manager')
service = ensure_user('ticketwarden', 'ticketwarden', 'service', SecureRandom.hex(24))
person_password = ENV.fetch('SANDBOX_PERSON_PASSWORD')
person = ensure_user('agent', 'Alice', 'Agent', person_password)
[service, person].each do |user|
  projects.each do |project|
    next if Member.where(user_id: user.id, project_id: project.id).exists?
    Member.create!(principal: user, project: project, role_ids: [manager.id])
  end
end

# The change board: the group change-board, a member of `changes`, gives its users the rulebook's
# role `approver`. Cora is on it; Alice (the person above) is a Manager there but not an approver.
approver = ensure_user('cora', 'Cora', 'Board', SecureRandom.hex(24))
board = Group.find_by(lastname: 'change-board') || Group.create!(name: 'change-board')
board.users << approver unless board.users.include?(approver)
changes = Project.find_by!(identifier: 'changes')
unless Member.where(user_id: board.id, project_id: changes.id).exists?
  Member.create!(principal: board, project: changes, role_ids: [manager.id])
end

admin = User.find_by!(login: 'admin')
puts "REDMINE_API_KEY=#{service.api_key}"
puts "SANDBOX_PERSON_API_KEY=#{person.api_key}"
puts "SANDBOX_PERSON_LOGIN=#{person.login}"
puts "SANDBOX_PERSON_PASSWORD=#{person_password}"
puts "SANDBOX_ADMIN_API_KEY=#{admin.api_key}"
